#include "detect/match.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace unmark {

MatchResult best_match(const cv::Mat& image, const cv::Mat& templ) {
  cv::Mat image32, templ32, result;
  if (image.depth() == CV_32F) image32 = image;
  else image.convertTo(image32, CV_32F);
  if (templ.depth() == CV_32F) templ32 = templ;
  else templ.convertTo(templ32, CV_32F);
  cv::matchTemplate(image32, templ32, result, cv::TM_CCOEFF_NORMED);
  MatchResult m;
  cv::minMaxLoc(result, nullptr, &m.score, nullptr, &m.at);
  if (!std::isfinite(m.score)) m.score = 0;
  return m;
}

}  // namespace unmark

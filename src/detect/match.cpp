#include "detect/match.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace unmark {

namespace {

// Placements up to this many are scored directly; more go to OpenCV. A verification tries a
// few pixels around the mark (5x5 placements of a 237x82 template at 1080p: 0.39 ms directly,
// 2.25 ms through matchTemplate, whose DFT pays for the whole window every time); a search over
// a window does better with the DFT.
constexpr int kDirectPlacements = 64;

// TM_CCOEFF_NORMED for each placement, by its sums: sum(I * T') / sqrt(var(I) * sum(T'^2)),
// T' the template less its mean. 0 where the window or the template is flat.
MatchResult direct_match(const cv::Mat& image, const cv::Mat& templ) {
  const int rw = image.cols - templ.cols + 1, rh = image.rows - templ.rows + 1;
  const double n = double(templ.total());
  cv::Mat centred = templ - cv::mean(templ)[0];
  const double templ_energy = cv::norm(centred, cv::NORM_L2SQR);
  MatchResult best;
  best.score = -2;
  for (int dy = 0; dy < rh; ++dy)
    for (int dx = 0; dx < rw; ++dx) {
      double cross = 0, sum = 0, energy = 0;
      for (int y = 0; y < templ.rows; ++y) {
        const float* ip = image.ptr<float>(y + dy) + dx;
        const float* tp = centred.ptr<float>(y);
        float c = 0, s = 0, e = 0;  // one row in float: at most a few hundred terms
        for (int x = 0; x < templ.cols; ++x) {
          c += ip[x] * tp[x];
          s += ip[x];
          e += ip[x] * ip[x];
        }
        cross += c;
        sum += s;
        energy += e;
      }
      const double variance = energy - sum * sum / n;
      const double score = variance > 1e-3 * n && templ_energy > 1e-6 ? cross / std::sqrt(variance * templ_energy) : 0.0;
      if (score > best.score) {
        best.score = score;
        best.at = {dx, dy};
      }
    }
  return best;
}

}  // namespace

MatchResult best_match(const cv::Mat& image, const cv::Mat& templ) {
  cv::Mat image32, templ32, result;
  if (image.depth() == CV_32F) image32 = image;
  else image.convertTo(image32, CV_32F);
  if (templ.depth() == CV_32F) templ32 = templ;
  else templ.convertTo(templ32, CV_32F);
  if ((image.cols - templ.cols + 1) * (image.rows - templ.rows + 1) <= kDirectPlacements)
    return direct_match(image32, templ32);
  cv::matchTemplate(image32, templ32, result, cv::TM_CCOEFF_NORMED);
  MatchResult m;
  cv::minMaxLoc(result, nullptr, &m.score, nullptr, &m.at);
  if (!std::isfinite(m.score)) m.score = 0;
  return m;
}

MatchResult find_match(const cv::Mat& image, const cv::Mat& templ, int candidates) {
  const int short_side = std::min(templ.cols, templ.rows);
  const int scale = short_side >= 48 ? 4 : short_side >= 16 ? 2 : 1;
  const long placements = long(image.cols - templ.cols + 1) * long(image.rows - templ.rows + 1);
  if (scale == 1 || placements < 4096) return best_match(image, templ);
  cv::Mat image32, templ32, small_image, small_templ, result;
  image.convertTo(image32, CV_32F);
  templ.convertTo(templ32, CV_32F);
  cv::resize(image32, small_image, {image.cols / scale, image.rows / scale}, 0, 0, cv::INTER_AREA);
  cv::resize(templ32, small_templ, {templ.cols / scale, templ.rows / scale}, 0, 0, cv::INTER_AREA);
  if (small_image.cols < small_templ.cols || small_image.rows < small_templ.rows) return best_match(image, templ);
  cv::matchTemplate(small_image, small_templ, result, cv::TM_CCOEFF_NORMED);
  cv::patchNaNs(result, -1);
  MatchResult best;
  best.score = -2;
  for (int k = 0; k < candidates; ++k) {
    double score;
    cv::Point at;
    cv::minMaxLoc(result, nullptr, &score, nullptr, &at);
    if (score <= -1) break;
    // Around it at full size: the coarse placement spans `scale` full-size ones, plus one each way.
    const cv::Rect window = cv::Rect(at.x * scale - scale, at.y * scale - scale, templ.cols + 3 * scale,
                                     templ.rows + 3 * scale) & cv::Rect(0, 0, image.cols, image.rows);
    if (window.width >= templ.cols && window.height >= templ.rows) {
      MatchResult m = best_match(image32(window), templ32);
      if (m.score > best.score) best = {m.score, window.tl() + m.at};
    }
    // The next candidate lies elsewhere: not within half the template of this one.
    const cv::Rect near(at.x - small_templ.cols / 2, at.y - small_templ.rows / 2, small_templ.cols, small_templ.rows);
    result(near & cv::Rect(0, 0, result.cols, result.rows)).setTo(-1);
  }
  if (best.score < -1) return best_match(image, templ);
  return best;
}

}  // namespace unmark

// Normalized cross-correlation of a template over an image: the one matching primitive detection
// and learning share.
#pragma once

#include <opencv2/core.hpp>

namespace unmark {

struct MatchResult {
  double score = 0;  // TM_CCOEFF_NORMED in -1..1; 0 where the image window is flat
  cv::Point at;      // top-left of the best placement, in image coordinates
};

// The best placement of `templ` in `image` (either may be 8-bit or float; both are compared as
// float). `image` must be at least as large as `templ`.
MatchResult best_match(const cv::Mat& image, const cv::Mat& templ);

}  // namespace unmark

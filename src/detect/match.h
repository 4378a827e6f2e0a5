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

// The same search made coarse to fine, for a template searched over a whole frame: both are
// averaged down (2x or 4x, as the template's size allows), the best few placements there are
// scored again at full size around them, and the best of those is returned (its score is the
// full-size one). Some 10x faster on a frame; it can miss a best placement that the coarse scale
// ranks below `candidates` others. Small searches are made exactly (best_match).
MatchResult find_match(const cv::Mat& image, const cv::Mat& templ, int candidates = 3);

}  // namespace unmark

// Scoring `unmark detect --json` against the truth: where the mark is in each frame.
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace unmark::bench {

// Per frame: the mark's box (nullopt: no mark) and whether the frame counts at all (frames at a
// jump, or while a mark fades, are scored neither way).
struct FrameTruth {
  std::optional<cv::Rect> box;
  bool counted = true;
};

struct DetectionScore {
  int counted = 0;       // frames scored
  int marked = 0;        // of those, frames with a mark
  int found = 0;         // marked frames where a detected box covers at least half the true box
  int false_frames = 0;  // frames with a box that does not overlap the true one (no mark: any box)
  double cover_sum = 0;  // share of the true box covered, summed over frames found
  double edge_sum = 0;   // largest distance between a found box's edge and the true one, summed
  double recall() const { return marked ? double(found) / marked : 1.0; }
  double false_share() const { return counted ? double(false_frames) / counted : 0.0; }
  double cover() const { return found ? cover_sum / found : 0.0; }
  double edge() const { return found ? edge_sum / found : 0.0; }
};

// `frames` is the "frames" array of `unmark detect --json`; `truth` is indexed by frame number.
DetectionScore score_detection(const nlohmann::json& frames, const std::vector<FrameTruth>& truth);

}  // namespace unmark::bench

// The real clips of ../shared/realset and their annotations (realset/README.md).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "detection_score.h"

namespace unmark::bench {

struct RealClip {
  struct Segment {
    int first, last;  // frames, inclusive
    cv::Rect box;     // the tight box
  };
  std::string file, kind;  // kind: sora, static, moving, clean
  std::filesystem::path path;
  int frames = 0;
  std::vector<Segment> segments;

  std::optional<cv::Rect> truth(int frame) const;
  // Near a segment's ends (a jump, the mark fading in): not counted either way.
  bool slack(int frame) const;
  std::vector<FrameTruth> frame_truth() const;
};

// The clips of `dir` (the realset folder), in the annotations' order; nullopt when it is absent.
std::optional<std::vector<RealClip>> load_realset(const std::filesystem::path& dir);

}  // namespace unmark::bench

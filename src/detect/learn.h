// `unmark learn`: estimates a watermark profile (alpha matte + colour) from videos that carry the
// same mark, the multi-frame idea of Dekel et al., "On the Effectiveness of Visible Watermarks"
// (CVPR 2017): over many frames the scene changes while the mark stays.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "detect/profile.h"

namespace unmark {

struct LearnOptions {
  std::string name = "learned";
  int max_frames = 360;      // frames used per video, spread evenly (memory is bounded by this)
  int max_width = 540;       // frames wider than this are scaled down to it for learning
  int window = 16;           // frames over which an edge must persist to count as the mark's
};

struct LearnReport {
  int frames_used = 0;       // frames whose observations went into the estimate
  int windows_found = 0;     // windows in which the mark was located
  std::vector<std::string> notes;
};

// Throws Error{input} when no persistent mark is found.
Profile learn_profile(const std::vector<std::string>& videos, const LearnOptions& options,
                      LearnReport* report = nullptr, const std::atomic<bool>* cancel = nullptr);

}  // namespace unmark

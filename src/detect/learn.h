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
  int max_read_frames = 0;   // stop reading a video after this many frames (0: read it all)
  // The share of windows the mark must be found in. An overlay is there nearly all the time;
  // discovery on an unknown video asks for more than learning from videos known to carry a mark.
  double min_window_share = 0.3;
  // The same for a mark found at two places or more (one that jumps, as Sora's does).
  double min_window_share_moving = 0.3;
  // The mean correlation of its edges over the windows it is found in (1: identical every time).
  double min_mean_score = 0.0;
  // A place counts only where the picture around the mark changes between windows (or is a black
  // bar): scenery that held still in a still shot is not a mark.
  bool require_background_change = true;
  // An unknown video (auto mode's discovery), not videos known to carry a mark: every place must
  // be held in two windows or more, and a pattern of a stroke or two is never taken to jump.
  bool discovering = false;
};

struct LearnReport {
  int frames_used = 0;       // frames whose observations went into the estimate
  int windows_found = 0;     // windows in which the mark was located
  int windows_total = 0;
  std::vector<std::string> notes;
};

// Throws Error{input} when no persistent mark is found.
Profile learn_profile(const std::vector<std::string>& videos, const LearnOptions& options,
                      LearnReport* report = nullptr, const std::atomic<bool>* cancel = nullptr);

}  // namespace unmark

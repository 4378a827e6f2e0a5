// Decode-only reading of a video's frames, for the stages that look without writing (learn,
// detect): the same input checks and decoder as the pipeline.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/frame.h"

namespace unmark {

struct VideoInfo {
  int width = 0, height = 0;
  int64_t expected_frames = 0;
  double fps = 0;
};

// Calls `on_frame` for every frame in display order; stops early when it returns false.
// Throws Error like the pipeline does (missing, not a video, corrupt, ...).
VideoInfo read_frames(const std::string& path, const std::function<bool(Frame&)>& on_frame,
                      const std::atomic<bool>* cancel = nullptr);

}  // namespace unmark

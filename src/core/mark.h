// A watermark found (or named) in one frame, as detection hands it to tracking and removal.
#pragma once

#include <vector>

#include "core/box.h"
#include "core/frame.h"

namespace unmark {

struct Mark {
  Box box;                  // frame luma coordinates
  float confidence = 1.0f;  // 0..1; a user's --region is 1
};

// One frame of a segment with the marks to remove from it.
struct SegmentFrame {
  Frame frame;
  std::vector<Mark> marks;
};

}  // namespace unmark

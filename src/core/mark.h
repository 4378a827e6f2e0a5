// A watermark found (or named) in one frame, as detection hands it to tracking and removal.
#pragma once

#include <memory>
#include <vector>

#include "core/box.h"
#include "core/frame.h"

namespace unmark {

struct ScaledMark;  // detect/profile.h: the mark's alpha and colour at this frame's scale

struct Mark {
  Box box;                  // frame luma coordinates
  float confidence = 1.0f;  // 0..1; a user's --region is 1
  // What the mark looks like, when a profile found it: alpha and colour of box's size, aligned
  // with box. Shared by every frame's mark (read-only). Null for a user's region.
  std::shared_ptr<const ScaledMark> appearance;
  int layout = 0;  // which of the profile's layouts: 0 as learned, 1 its mirror (detect/profile.h)
};

// One frame of a segment with the marks to remove from it.
struct SegmentFrame {
  Frame frame;
  std::vector<Mark> marks;
};

}  // namespace unmark

// A plane of a decoded frame as an 8-bit cv::Mat of its own (wide samples scaled down), for the
// work that keeps frames past the decoder's reuse of its buffers (learning, measuring a mark).
#pragma once

#include <opencv2/core.hpp>

#include "core/frame.h"

namespace unmark {

cv::Mat plane_copy_8bit(const PlaneView& plane);

// `roi` of a plane in 8 bits without copying 8-bit data: a view of an 8-bit plane (valid while
// its buffer is), a scaled-down copy of a wide one. For reading only.
cv::Mat plane_8bit(const PlaneView& plane, cv::Rect roi);

}  // namespace unmark

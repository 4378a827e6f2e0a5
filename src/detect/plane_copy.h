// A plane of a decoded frame as an 8-bit cv::Mat of its own (wide samples scaled down), for the
// work that keeps frames past the decoder's reuse of its buffers (learning, measuring a mark).
#pragma once

#include <opencv2/core.hpp>

#include "core/frame.h"

namespace unmark {

cv::Mat plane_copy_8bit(const PlaneView& plane);

}  // namespace unmark

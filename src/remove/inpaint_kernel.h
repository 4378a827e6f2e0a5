// Spatial inpainting of a box on one plane: the pure kernel (after vf_delogo's shape), with no
// frame or option types, so the CPU remover, tests and a future CUDA port share one reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/box.h"

namespace unmark {

// Replaces the samples inside `box` of a width x height plane with a smooth membrane interpolated
// from the ring of samples around it, blending into the original over the `feather` outermost
// samples of the box (edges on the plane border are not blended: nothing lies beyond them).
// Samples outside `box` are never written. `box` must lie inside the plane; stride is in bytes.
void inpaint_box(uint8_t* data, std::ptrdiff_t stride, int width, int height, Box box, int feather);
void inpaint_box(uint16_t* data, std::ptrdiff_t stride, int width, int height, Box box, int feather,
                 int max_value);

// The same fill for only the samples of `box` whose `mask` byte is non-zero (mask: box.w x box.h,
// row stride mask_stride); the others, and everything outside the box, are known and kept.
void inpaint_mask(uint8_t* data, std::ptrdiff_t stride, int width, int height, Box box,
                  const uint8_t* mask, std::ptrdiff_t mask_stride);
void inpaint_mask(uint16_t* data, std::ptrdiff_t stride, int width, int height, Box box,
                  const uint8_t* mask, std::ptrdiff_t mask_stride, int max_value);

}  // namespace unmark

// Where this frame's mark reaches past its profile's footprint.
//
// A profile is the mark's average look. An animated mark is not always that: Sora's cloud swells
// by ~10% for a few frames in each stay, and a mark's glow or a softer encode spreads it. Painted
// from samples that still carry the mark, the fill takes their light inward: a pale ghost of the
// whole shape. So before anything is filled, the samples just outside the painted footprint are
// tested against the background just beyond them (the median of the samples there): those that
// stand apart from it toward the mark's colour, connected to the footprint, join it (at most
// kHaloReach samples out). Where the background is busy (text: its paper is as bright as a
// halo) or close to the mark's colour (a halo would not show), nothing is added.
#pragma once

#include <opencv2/core.hpp>

#include "core/box.h"
#include "core/frame.h"

namespace unmark {

constexpr int kHaloReach = 4;  // luma samples past the footprint a frame's mark may reach

// `canvas` (CV_8U, 0 or 255, the luma `area` of `luma`'s plane) marks the samples to remove, of
// which `painted` (the same size) are to be painted; grows `canvas` in place into the mark's
// halo around what is painted (around what is undone, the background is recovered as it is, and
// no halo is carried inward). `mark_luma` is the mark's colour in 8-bit levels. Returns the
// number of samples added.
int grow_into_halo(const PlaneView& luma, const Box& area, float mark_luma, const cv::Mat& painted, cv::Mat& canvas);

}  // namespace unmark

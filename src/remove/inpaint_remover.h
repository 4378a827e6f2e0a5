// The spatial remover: membrane inpainting of each mark's box on every plane.
#pragma once

#include <memory>

#include <opencv2/core.hpp>

#include "remove/remover.h"
#include "remove/temporal_fill.h"

namespace unmark {

// Luma samples a painted footprint is dilated by: the reach of the compression ringing and the
// soft edge around a mark.
constexpr int kFootprintReach = 3;

// Dilates a luma-resolution mask (CV_8U) by kFootprintReach, in place.
void dilate_by_footprint_reach(cv::Mat& mask);
// The luma area removing a mark with a profile may change: its box grown by the footprint's
// reach and the halo's (remove/halo.h), clipped to the frame.
Box removal_area(const Box& box, int width, int height);
// The mark's luma colour (alpha-weighted over its profile), 8-bit levels. `mark` has a profile.
float mark_luma(const Mark& mark);
// The holes on every plane for `canvas` (CV_8U over the luma `area`, non-zero: to change); a
// chroma sample is a hole if any luma sample it covers is.
std::vector<PlaneHoles> holes_from_canvas(const Frame& frame, const cv::Mat& canvas, const Box& area);

std::unique_ptr<Remover> make_inpaint_remover(const RemoverOptions& options);
// Inpaints one mark's box (grown by options.margin, clipped) on every plane of a writable frame.
void inpaint_mark(Frame& frame, const Mark& mark, const RemoverOptions& options);
// The same holes (the mark's footprint, or its grown box), filled first from the frames around
// (temporal_fill.h) and spatially where none saw them. `frame` is frame `at` of the window's segment.
void fill_mark(FrameWindow& window, size_t at, Frame& frame, const Mark& mark, const RemoverOptions& options);
// The luma samples that removing `mark` may change, which are also those where its compression
// ringing shows: its footprint (every sample its profile's alpha touches, and the reach of the
// ringing around them) where it has a profile of its box's size, else its box grown by `margin`.
Cover removal_cover(const Mark& mark, int margin);
// Spatial inpainting of what is left in `holes` (one entry per plane).
void paint_holes(Frame& frame, const std::vector<PlaneHoles>& holes);
// Reverse alpha blending where a profile gives the mark's alpha; inpainting where it is nearly
// opaque, and for marks without a profile.
std::unique_ptr<Remover> make_deblend_remover(const RemoverOptions& options);
// auto: deblends the marks whose profile was measured on this video (exact enough to undo), and
// inpaints the others (a profile only good enough to find the mark leaves a ghost when undone).
std::unique_ptr<Remover> make_auto_remover(const RemoverOptions& options);
// Temporal fill of every mark (its footprint, or its box), spatial inpainting where no frame saw
// the spot; nothing is undone.
std::unique_ptr<Remover> make_temporal_remover(const RemoverOptions& options);
// Draws each mark's box (a two-pixel white and black frame) instead of removing it.
std::unique_ptr<Remover> make_outline_remover(const RemoverOptions& options);

}  // namespace unmark

// The spatial remover: membrane inpainting of each mark's box on every plane.
#pragma once

#include <memory>

#include "remove/remover.h"
#include "remove/temporal_fill.h"

namespace unmark {

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

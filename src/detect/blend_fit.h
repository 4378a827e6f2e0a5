// Fitting one pixel of a translucent mark from pairs of what was seen with it, o, and the
// background under it, b: o = alpha * colour + (1 - alpha) * b, a line of slope 1 - alpha.
#pragma once

#include <vector>

namespace unmark {

struct BlendLine {
  double slope = 1;      // 1 - alpha
  double intercept = 0;  // alpha * colour
  double alpha() const { return 1 - slope; }
};

// Robust fit (Huber weights times each pair's own `prior` weight) of o against b.
//
// The free fit (`colour` < 0) regresses on b, which carries the pair's mismatch (motion the
// alignment did not undo, noise): noise in the regressor flattens the slope (regression
// dilution), which reads as too much alpha and too dark a colour (a white mark over a face
// measured at Y 214 instead of 231). `b_noise`, the variance of b's error, is taken out of b's
// variance; where b barely varied beyond it, alpha is not measurable and the fit says alpha 0.
//
// With the colour fixed (`colour` >= 0: o - C = slope * (b - C)) one unknown is left, and b - C
// spans the whole way from the background to the mark's colour, far above the noise: no
// correction is needed.
BlendLine fit_blend_line(const std::vector<float>& b, const std::vector<float>& o, double colour,
                         const std::vector<double>& prior, double b_noise = 0);

}  // namespace unmark

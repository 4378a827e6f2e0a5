#include "detect/blend_fit.h"

#include <algorithm>
#include <cmath>

namespace unmark {

namespace {
constexpr double kHuber = 6.0;          // 8-bit levels
constexpr double kMinBackgroundVar = 25.0;  // levels^2: below, the background did not vary
}  // namespace

BlendLine fit_blend_line(const std::vector<float>& b, const std::vector<float>& o, double colour,
                         const std::vector<double>& prior, double b_noise) {
  const size_t n = b.size();
  std::vector<double> w(prior);
  BlendLine line;
  for (int iter = 0; iter < 8; ++iter) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
      const double x = colour >= 0 ? b[i] - colour : b[i], y = colour >= 0 ? o[i] - colour : o[i];
      sw += w[i];
      sx += w[i] * x;
      sy += w[i] * y;
      sxx += w[i] * x * x;
      sxy += w[i] * x * y;
    }
    if (sw <= 0) break;
    if (colour >= 0) {
      line.slope = sxx > 1e-6 ? std::clamp(sxy / sxx, 0.0, 1.0) : 1.0;
      line.intercept = (1 - line.slope) * colour;
    } else {
      const double mx = sx / sw, my = sy / sw, vx = sxx / sw - mx * mx - b_noise;
      if (vx < std::max(kMinBackgroundVar, 2 * b_noise)) return {};
      line.slope = std::clamp((sxy / sw - mx * my) / vx, 0.0, 1.0);
      line.intercept = my - line.slope * mx;
    }
    for (size_t i = 0; i < n; ++i) {
      const double r = std::abs(o[i] - (line.slope * b[i] + line.intercept));
      w[i] = prior[i] * (r <= kHuber ? 1.0 : kHuber / r);
    }
  }
  return line;
}

}  // namespace unmark

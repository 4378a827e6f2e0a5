// Scene flow (see scene_flow.h).
//
// Pyramidal Lucas-Kanade, with one twist: a sample hidden by a mark in either frame takes no part
// in a patch's fit. A static mark would otherwise pull every patch that touches it towards no
// motion, and a moving one towards its own jump. Patches are fitted on a coarse grid of the crop
// (the fill between them is smooth anyway), coarse to fine over three levels of 2x2 averages, so
// motion of a dozen samples is found without a search.
#include "remove/scene_flow.h"

#include <algorithm>
#include <cmath>

namespace unmark {
namespace {

constexpr int kLevels = 3;          // pyramid levels (1, 1/2, 1/4)
constexpr int kRadius = 3;          // patch half-size, samples of the level (7x7)
constexpr int kIterations = 5;      // Gauss-Newton steps per level
constexpr int kPad = 24;            // luma samples read beyond the crop (where motion takes a patch)
constexpr float kMinTexture = 3.f;  // smaller eigenvalue of the patch's mean gradient tensor (levels^2)
constexpr float kMatch = 5.f;       // mean |difference| after the move (8-bit levels)
constexpr double kMinMeasured = 0.1;  // share of the grid to be measured for the flow to count

// One level of the pyramid over the read region: intensities (8-bit scale) and where a mark hides.
struct Level {
  int w = 0, h = 0;
  std::vector<float> value;
  std::vector<uint8_t> hidden;

  float v(int x, int y) const { return value[size_t(y) * w + x]; }
  bool hid(int x, int y) const { return hidden[size_t(y) * w + x] != 0; }
  // The central-difference gradient at (x, y) uses only samples no mark hides.
  bool gradient_known(int x, int y) const {
    return !(hid(x, y) || hid(x - 1, y) || hid(x + 1, y) || hid(x, y - 1) || hid(x, y + 1));
  }
  // Bilinear; false outside or where any of the four samples is hidden.
  bool sample(float x, float y, float& out) const {
    if (!(x >= 0 && y >= 0 && x < float(w - 1) && y < float(h - 1))) return false;
    const int x0 = int(x), y0 = int(y);
    const size_t i = size_t(y0) * w + x0;
    if (hidden[i] | hidden[i + 1] | hidden[i + w] | hidden[i + w + 1]) return false;
    const float fx = x - float(x0), fy = y - float(y0);
    const float top = value[i] + fx * (value[i + 1] - value[i]);
    const float bottom = value[i + w] + fx * (value[i + w + 1] - value[i + w]);
    out = top + fy * (bottom - top);
    return true;
  }
};

std::vector<Level> pyramid(const PlaneView& plane, const Box& region, const std::vector<Cover>& hidden) {
  std::vector<Level> levels(kLevels);
  Level& base = levels[0];
  base.w = region.w;
  base.h = region.h;
  base.value.resize(size_t(base.w) * base.h);
  base.hidden.assign(size_t(base.w) * base.h, 0);
  const float scale = 1.f / float(1 << (plane.bit_depth - 8));
  for (int y = 0; y < base.h; ++y) {
    const uint8_t* row = plane.data + (region.y + y) * plane.stride;
    float* out = base.value.data() + size_t(y) * base.w;
    if (plane.wide())
      for (int x = 0; x < base.w; ++x) out[x] = float(reinterpret_cast<const uint16_t*>(row)[region.x + x]) * scale;
    else
      for (int x = 0; x < base.w; ++x) out[x] = float(row[region.x + x]);
  }
  for (const Cover& c : hidden) {
    const Box b = Box{c.box.x - region.x, c.box.y - region.y, c.box.w, c.box.h}.clipped(base.w, base.h);
    for (int y = b.y; y < b.bottom(); ++y)
      for (int x = b.x; x < b.right(); ++x)
        if (c.hides(region.x + x, region.y + y)) base.hidden[size_t(y) * base.w + x] = 1;
  }
  for (int l = 1; l < kLevels; ++l) {
    const Level& fine = levels[size_t(l - 1)];
    Level& coarse = levels[size_t(l)];
    coarse.w = fine.w / 2;
    coarse.h = fine.h / 2;
    coarse.value.resize(size_t(coarse.w) * coarse.h);
    coarse.hidden.resize(size_t(coarse.w) * coarse.h);
    for (int y = 0; y < coarse.h; ++y)
      for (int x = 0; x < coarse.w; ++x) {
        const int fx = 2 * x, fy = 2 * y;
        coarse.value[size_t(y) * coarse.w + x] =
            0.25f * (fine.v(fx, fy) + fine.v(fx + 1, fy) + fine.v(fx, fy + 1) + fine.v(fx + 1, fy + 1));
        coarse.hidden[size_t(y) * coarse.w + x] =
            fine.hid(fx, fy) | fine.hid(fx + 1, fy) | fine.hid(fx, fy + 1) | fine.hid(fx + 1, fy + 1);
      }
  }
  return levels;
}

// The smaller eigenvalue of the mean gradient tensor (sums over n samples): how well a patch
// can tell motion in its weakest direction.
double smaller_eigenvalue(double hxx, double hxy, double hyy, int n) {
  const double a = hxx / n, b = hxy / n, c = hyy / n;
  return 0.5 * (a + c) - std::sqrt(0.25 * (a - c) * (a - c) + b * b);
}

// The smaller eigenvalue of the mean gradient tensor of the patch at (cx, cy) of a level, over
// the samples not hidden (0 when most are): how well the patch can tell motion in its weakest
// direction.
float texture(const Level& f, int cx, int cy) {
  if (cx - kRadius < 1 || cy - kRadius < 1 || cx + kRadius >= f.w - 1 || cy + kRadius >= f.h - 1) return 0;
  double hxx = 0, hxy = 0, hyy = 0;
  int n = 0;
  for (int y = cy - kRadius; y <= cy + kRadius; ++y)
    for (int x = cx - kRadius; x <= cx + kRadius; ++x) {
      if (!f.gradient_known(x, y)) continue;
      const float ix = 0.5f * (f.v(x + 1, y) - f.v(x - 1, y)), iy = 0.5f * (f.v(x, y + 1) - f.v(x, y - 1));
      hxx += ix * ix;
      hxy += ix * iy;
      hyy += iy * iy;
      ++n;
    }
  if (n * 2 < (2 * kRadius + 1) * (2 * kRadius + 1)) return 0;
  return float(smaller_eigenvalue(hxx, hxy, hyy, n));
}

struct Fit {
  float dx = 0, dy = 0;
  bool ok = false;
};

// Fits one patch centred at (cx, cy) (level-0 samples of the region) from level `from` to `to`.
Fit fit_patch(const std::vector<Level>& from, const std::vector<Level>& to, int cx, int cy) {
  const int full = (2 * kRadius + 1) * (2 * kRadius + 1);
  float dx = 0, dy = 0;
  for (int l = kLevels - 1; l >= 0; --l) {
    const Level& f = from[size_t(l)];
    const Level& g = to[size_t(l)];
    const int px = cx >> l, py = cy >> l;
    if (px - kRadius < 1 || py - kRadius < 1 || px + kRadius >= f.w - 1 || py + kRadius >= f.h - 1) return {};
    double residual = 0, hxx = 0, hxy = 0, hyy = 0;
    int n = 0;
    for (int it = 0; it < kIterations; ++it) {
      hxx = hxy = hyy = 0;
      double bx = 0, by = 0;
      residual = 0;
      n = 0;
      for (int v = -kRadius; v <= kRadius; ++v)
        for (int u = -kRadius; u <= kRadius; ++u) {
          const int x = px + u, y = py + v;
          if (!f.gradient_known(x, y)) continue;
          float moved;
          if (!g.sample(float(x) + dx, float(y) + dy, moved)) continue;
          const float ix = 0.5f * (f.v(x + 1, y) - f.v(x - 1, y));
          const float iy = 0.5f * (f.v(x, y + 1) - f.v(x, y - 1));
          const float it_ = moved - f.v(x, y);
          hxx += ix * ix;
          hxy += ix * iy;
          hyy += iy * iy;
          bx += ix * it_;
          by += iy * it_;
          residual += std::abs(it_);
          ++n;
        }
      if (n * 2 < full) return {};  // most of the patch is hidden or has moved out
      const double det = hxx * hyy - hxy * hxy;
      if (det <= 1e-9) return {};
      const double sx = (-hyy * bx + hxy * by) / det, sy = (hxy * bx - hxx * by) / det;
      dx += float(sx);
      dy += float(sy);
      if (std::abs(dx) > float(kPad) || std::abs(dy) > float(kPad)) return {};
      if (sx * sx + sy * sy < 1e-4) break;
    }
    if (l == 0) {
      // Texture enough to tell the motion (the smaller eigenvalue of the mean tensor), and a
      // match after the move (the residual is that of the last step, close enough).
      if (smaller_eigenvalue(hxx, hxy, hyy, n) < kMinTexture || residual / n > kMatch) return {};
      return {dx, dy, true};
    }
    dx *= 2;
    dy *= 2;
  }
  return {};
}

}  // namespace

std::optional<SceneFlow> SceneFlow::measure(const PlaneView& from, const PlaneView& to, const Box& crop,
                                            const std::vector<Cover>& from_hidden, const std::vector<Cover>& to_hidden) {
  if (from.width != to.width || from.height != to.height || crop.empty()) return std::nullopt;
  const Box region = crop.grown(kPad).clipped(from.width, from.height);
  if (region.w < 16 || region.h < 16) return std::nullopt;
  const std::vector<Level> f = pyramid(from, region, from_hidden);

  SceneFlow flow;
  flow.crop_ = crop;
  flow.step_ = std::max(6, std::min(crop.w, crop.h) / 16);
  flow.cols_ = (crop.w - 1) / flow.step_ + 2;
  flow.rows_ = (crop.h - 1) / flow.step_ + 2;
  flow.grid_.assign(size_t(flow.cols_) * flow.rows_, {});
  // Only patches with texture in every direction can tell the motion; a crop with too few of
  // them (sky, sand, a wall) has no flow, found before any fitting.
  std::vector<uint8_t> textured(flow.grid_.size(), 0);
  int textured_count = 0;
  for (int j = 0; j < flow.rows_; ++j)
    for (int i = 0; i < flow.cols_; ++i) {
      const bool enough = texture(f[0], crop.x + i * flow.step_ - region.x, crop.y + j * flow.step_ - region.y) >= kMinTexture;
      textured[size_t(j) * flow.cols_ + i] = enough;
      textured_count += enough;
    }
  if (textured_count < 4 || double(textured_count) / double(flow.grid_.size()) < kMinMeasured) return std::nullopt;
  const std::vector<Level> g = pyramid(to, region, to_hidden);
  std::vector<uint8_t> known(flow.grid_.size(), 0);  // measured
  int measured = 0;
  for (int j = 0; j < flow.rows_; ++j)
    for (int i = 0; i < flow.cols_; ++i) {
      if (!textured[size_t(j) * flow.cols_ + i]) continue;
      const Fit fit = fit_patch(f, g, crop.x + i * flow.step_ - region.x, crop.y + j * flow.step_ - region.y);
      if (!fit.ok) continue;
      flow.grid_[size_t(j) * flow.cols_ + i] = {fit.dx, fit.dy};
      known[size_t(j) * flow.cols_ + i] = 1;
      ++measured;
    }
  flow.measured_share_ = double(measured) / double(flow.grid_.size());
  if (measured < 4 || flow.measured_share_ < kMinMeasured) return std::nullopt;

  // A patch that disagrees with most of its measured neighbours took a wrong match (a repeated
  // texture, an edge of the mark): it is filled in with the rest.
  std::vector<uint8_t> kept = known;
  for (int j = 0; j < flow.rows_; ++j)
    for (int i = 0; i < flow.cols_; ++i) {
      const size_t k = size_t(j) * flow.cols_ + i;
      if (!known[k]) continue;
      int near = 0, agree = 0;
      for (int v = std::max(0, j - 1); v <= std::min(flow.rows_ - 1, j + 1); ++v)
        for (int u = std::max(0, i - 1); u <= std::min(flow.cols_ - 1, i + 1); ++u) {
          const size_t q = size_t(v) * flow.cols_ + u;
          if (q == k || !known[q]) continue;
          ++near;
          const float ddx = flow.grid_[q].dx - flow.grid_[k].dx, ddy = flow.grid_[q].dy - flow.grid_[k].dy;
          agree += ddx * ddx + ddy * ddy < 1.0f;
        }
      if (near >= 2 && agree * 2 < near) kept[k] = 0;
    }

  // The membrane over the grid: left-out points relax to the mean of their neighbours.
  double sx = 0, sy = 0;
  int n = 0;
  for (size_t k = 0; k < kept.size(); ++k)
    if (kept[k]) {
      sx += flow.grid_[k].dx;
      sy += flow.grid_[k].dy;
      ++n;
    }
  if (n == 0) return std::nullopt;
  for (size_t k = 0; k < kept.size(); ++k)
    if (!kept[k]) flow.grid_[k] = {float(sx / n), float(sy / n)};
  const int sweeps = 2 * (flow.cols_ + flow.rows_);
  for (int s = 0; s < sweeps; ++s)
    for (int j = 0; j < flow.rows_; ++j)
      for (int i = 0; i < flow.cols_; ++i) {
        const size_t k = size_t(j) * flow.cols_ + i;
        if (kept[k]) continue;
        float ax = 0, ay = 0;
        int c = 0;
        auto add = [&](int u, int v) {
          if (u < 0 || v < 0 || u >= flow.cols_ || v >= flow.rows_) return;
          const Motion& m = flow.grid_[size_t(v) * flow.cols_ + u];
          ax += m.dx;
          ay += m.dy;
          ++c;
        };
        add(i - 1, j);
        add(i + 1, j);
        add(i, j - 1);
        add(i, j + 1);
        flow.grid_[k] = {ax / float(c), ay / float(c)};
      }
  return flow;
}

SceneFlow::Motion SceneFlow::at(float x, float y) const {
  const float gx = std::clamp((x - float(crop_.x)) / float(step_), 0.f, float(cols_ - 1));
  const float gy = std::clamp((y - float(crop_.y)) / float(step_), 0.f, float(rows_ - 1));
  // The grid is at least 2 x 2 (it spans the crop and one step beyond).
  const int i = std::min(int(gx), cols_ - 2), j = std::min(int(gy), rows_ - 2);
  const float fx = gx - float(i), fy = gy - float(j);
  auto m = [&](int u, int v) { return grid_[size_t(v) * cols_ + u]; };
  const Motion a = m(i, j), b = m(i + 1, j), c = m(i, j + 1), d = m(i + 1, j + 1);
  return {(1 - fy) * ((1 - fx) * a.dx + fx * b.dx) + fy * ((1 - fx) * c.dx + fx * d.dx),
          (1 - fy) * ((1 - fx) * a.dy + fx * b.dy) + fy * ((1 - fx) * c.dy + fx * d.dy)};
}

}  // namespace unmark

// Membrane inpainting by pull-push, then relaxation.
//
// Why this method: the fill must be smooth, continuous with what surrounds the box, cheap enough
// to run on every frame (a 100x30 box on three planes in well under a millisecond), and it must not
// depend on the box's shape. The harmonic (membrane) interpolant is the smoothest surface meeting
// the ring around the box; pull-push (Gortler et al., "The Lumigraph", 1996) gets close to it in
// O(n): average known samples down a pyramid until every cell has a value, then fill each level's
// holes from the coarser level on the way back up. On the way up, a few Jacobi sweeps relax the
// unknown rectangle of each level towards the harmonic solution: a multigrid V-cycle in effect,
// where the coarse levels carry the long-range correction and the full-resolution level needs only
// a few cheap, vectorisable sweeps (a serial Gauss-Seidel solve at full resolution cost ~10x more).
// It paints smooth colour, not texture: the right simple fill for a box a user names, and the
// fallback the better removers use where nothing else is known.
//
// Constants: the known ring is a quarter of the box's short side, 2 to 8 samples (wider rings
// average away noise but reach colours the box never touched); 6 sweeps per level (the error
// left after pull-push is smooth, and each level halves its wavelength).
#include "remove/inpaint_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace unmark {
namespace {

constexpr int kRelaxSweeps = 6;

struct Level {
  int w = 0, h = 0;
  std::vector<float> value, weight;
  std::vector<uint8_t> fixed;  // cells fully known after the pull: relaxation leaves them alone
  Box unknown;  // the rectangle holding the cells not fully known (the box, subsampled outward)
};

// Jacobi sweeps of the 5-point Laplacian over `r`; a missing neighbour at the level's edge counts
// as the cell itself (a zero-gradient boundary).
void relax(Level& level, Box r, int sweeps, std::vector<float>& scratch) {
  if (r.empty()) return;
  const int w = level.w, h = level.h;
  float* v = level.value.data();
  scratch.resize(size_t(r.w) * r.h);
  const int inner_x0 = std::max(r.x, 1), inner_x1 = std::min(r.right(), w - 1);
  for (int s = 0; s < sweeps; ++s) {
    for (int y = r.y; y < r.bottom(); ++y) {
      const float* row = v + size_t(y) * w;
      const float* up = v + size_t(y > 0 ? y - 1 : y) * w;
      const float* down = v + size_t(y + 1 < h ? y + 1 : y) * w;
      float* out = scratch.data() + size_t(y - r.y) * r.w - r.x;
      for (int x = inner_x0; x < inner_x1; ++x)
        out[x] = 0.25f * (row[x - 1] + row[x + 1] + up[x] + down[x]);
      for (int x : {r.x, r.right() - 1}) {  // the edge columns, when they touch the level's edge
        if (x >= inner_x0 && x < inner_x1) continue;
        float left = row[x > 0 ? x - 1 : x], right = row[x + 1 < w ? x + 1 : x];
        out[x] = 0.25f * (left + right + up[x] + down[x]);
      }
    }
    const uint8_t* fixed = level.fixed.data();
    for (int y = r.y; y < r.bottom(); ++y) {
      const float* src = scratch.data() + size_t(y - r.y) * r.w;
      float* dst = v + size_t(y) * w + r.x;
      const uint8_t* keep = fixed + size_t(y) * w + r.x;
      for (int x = 0; x < r.w; ++x)
        if (!keep[x]) dst[x] = src[x];
    }
  }
}

template <class T>
void inpaint_impl(T* data, std::ptrdiff_t stride, int width, int height, Box box, int feather,
                  int max_value, const uint8_t* mask = nullptr, std::ptrdiff_t mask_stride = 0) {
  const Box given = box;  // the mask's frame of reference (before clipping)
  box = box.clipped(width, height);
  if (box.empty()) return;
  const int margin = std::clamp(std::min(box.w, box.h) / 4, 2, 8);
  const Box work = box.grown(margin).clipped(width, height);
  auto row = [&](int y) { return reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(data) + y * stride); };

  // Level 0: the work area, samples outside the box known (weight 1), inside unknown (weight 0).
  std::vector<Level> pyramid;
  pyramid.reserve(24);  // levels halve the size: 24 cover any plane
  pyramid.emplace_back();
  Level& base = pyramid[0];
  base.w = work.w;
  base.h = work.h;
  base.unknown = {box.x - work.x, box.y - work.y, box.w, box.h};
  base.value.assign(size_t(work.w) * work.h, 0.f);
  base.weight.assign(size_t(work.w) * work.h, 0.f);
  bool any_known = false;
  auto unknown = [&](int fx, int fy) {
    if (!box.contains(fx, fy)) return false;
    return !mask || mask[(fy - given.y) * mask_stride + (fx - given.x)] != 0;
  };
  for (int y = 0; y < work.h; ++y) {
    const T* src = row(work.y + y) + work.x;
    for (int x = 0; x < work.w; ++x) {
      if (unknown(work.x + x, work.y + y)) continue;
      base.value[size_t(y) * work.w + x] = float(src[x]);
      base.weight[size_t(y) * work.w + x] = 1.f;
      any_known = true;
    }
  }
  if (!any_known) return;  // the box is the whole plane: nothing to interpolate from
  base.fixed.resize(base.weight.size());
  for (size_t i = 0; i < base.weight.size(); ++i) base.fixed[i] = base.weight[i] >= 1.f;

  // Pull: weighted averages down to a level where every cell is known.
  for (;;) {
    const Level& fine = pyramid.back();
    bool complete = std::all_of(fine.weight.begin(), fine.weight.end(), [](float w) { return w > 0; });
    if (complete || (fine.w == 1 && fine.h == 1)) break;
    Level coarse;
    coarse.w = (fine.w + 1) / 2;
    coarse.h = (fine.h + 1) / 2;
    coarse.unknown = fine.unknown.subsampled(1, 1).clipped(coarse.w, coarse.h);
    coarse.value.assign(size_t(coarse.w) * coarse.h, 0.f);
    coarse.weight.assign(size_t(coarse.w) * coarse.h, 0.f);
    for (int y = 0; y < coarse.h; ++y) {
      for (int x = 0; x < coarse.w; ++x) {
        float sw = 0.f, sv = 0.f;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            int fx = 2 * x + dx, fy = 2 * y + dy;
            if (fx >= fine.w || fy >= fine.h) continue;
            size_t i = size_t(fy) * fine.w + fx;
            sw += fine.weight[i];
            sv += fine.weight[i] * fine.value[i];
          }
        }
        size_t o = size_t(y) * coarse.w + x;
        coarse.weight[o] = std::min(1.f, sw);
        coarse.value[o] = sw > 0 ? sv / sw : 0.f;
      }
    }
    coarse.fixed.resize(coarse.weight.size());
    for (size_t i = 0; i < coarse.weight.size(); ++i) coarse.fixed[i] = coarse.weight[i] >= 1.f;
    pyramid.push_back(std::move(coarse));
  }

  // Push: fill each level's missing weight from the level above, bilinearly, then relax it.
  std::vector<float> scratch;
  relax(pyramid.back(), pyramid.back().unknown, kRelaxSweeps, scratch);
  for (int k = int(pyramid.size()) - 2; k >= 0; --k) {
    Level& fine = pyramid[size_t(k)];
    const Level& coarse = pyramid[size_t(k) + 1];
    for (int y = 0; y < fine.h; ++y) {
      float cy = std::clamp((y + 0.5f) / 2.f - 0.5f, 0.f, float(coarse.h - 1));
      int y0 = int(cy), y1 = std::min(y0 + 1, coarse.h - 1);
      float fy = cy - y0;
      for (int x = 0; x < fine.w; ++x) {
        size_t i = size_t(y) * fine.w + x;
        if (fine.weight[i] >= 1.f) continue;
        float cx = std::clamp((x + 0.5f) / 2.f - 0.5f, 0.f, float(coarse.w - 1));
        int x0 = int(cx), x1 = std::min(x0 + 1, coarse.w - 1);
        float fx = cx - x0;
        auto at = [&](int xx, int yy) { return coarse.value[size_t(yy) * coarse.w + xx]; };
        float up = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) +
                   (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
        fine.value[i] = fine.weight[i] * fine.value[i] + (1 - fine.weight[i]) * up;
        fine.weight[i] = 1.f;
      }
    }
    relax(fine, fine.unknown, kRelaxSweeps, scratch);
  }

  const std::vector<float>& v = base.value;
  const int bx0 = box.x - work.x, by0 = box.y - work.y;

  // Write back, feathering only against edges that have image beyond them.
  const bool open_left = box.x > 0, open_top = box.y > 0;
  const bool open_right = box.right() < width, open_bottom = box.bottom() < height;
  for (int y = 0; y < box.h; ++y) {
    T* dst = row(box.y + y) + box.x;
    for (int x = 0; x < box.w; ++x) {
      if (mask && !unknown(box.x + x, box.y + y)) continue;
      int d = mask ? (1 << 30) : (1 << 30) - 1;  // a masked fill has no box edge to feather
      if (mask) {
        dst[x] = T(std::clamp(int(std::lround(v[size_t(by0 + y) * work.w + bx0 + x])), 0, max_value));
        continue;
      }
      if (open_left) d = std::min(d, x);
      if (open_right) d = std::min(d, box.w - 1 - x);
      if (open_top) d = std::min(d, y);
      if (open_bottom) d = std::min(d, box.h - 1 - y);
      float fill = v[size_t(by0 + y) * work.w + bx0 + x];
      if (d < feather) {
        float a = float(d + 1) / float(feather + 1);
        fill = a * fill + (1 - a) * float(dst[x]);
      }
      dst[x] = T(std::clamp(int(std::lround(fill)), 0, max_value));
    }
  }
}

}  // namespace

void inpaint_box(uint8_t* data, std::ptrdiff_t stride, int width, int height, Box box, int feather) {
  inpaint_impl<uint8_t>(data, stride, width, height, box, feather, 255);
}

void inpaint_box(uint16_t* data, std::ptrdiff_t stride, int width, int height, Box box, int feather,
                 int max_value) {
  inpaint_impl<uint16_t>(data, stride, width, height, box, feather, max_value);
}

void inpaint_mask(uint8_t* data, std::ptrdiff_t stride, int width, int height, Box box,
                  const uint8_t* mask, std::ptrdiff_t mask_stride) {
  inpaint_impl<uint8_t>(data, stride, width, height, box, 0, 255, mask, mask_stride);
}

void inpaint_mask(uint16_t* data, std::ptrdiff_t stride, int width, int height, Box box,
                  const uint8_t* mask, std::ptrdiff_t mask_stride, int max_value) {
  inpaint_impl<uint16_t>(data, stride, width, height, box, 0, max_value, mask, mask_stride);
}

}  // namespace unmark

// What a frame's mark hides from the temporal fill, in luma samples: its whole box, or, where
// the mark's profile says which, only its footprint within the box.
#pragma once

#include <cstdint>
#include <vector>

#include "core/box.h"

namespace unmark {

struct Cover {
  Box box;
  std::vector<uint8_t> mask;  // box.w x box.h, non-zero: hidden; empty: all of the box

  bool hides(int x, int y) const {
    return box.contains(x, y) && (mask.empty() || mask[size_t(y - box.y) * size_t(box.w) + size_t(x - box.x)]);
  }
  // True when any sample of `b` is hidden.
  bool touches(const Box& b) const {
    const int x0 = std::max(b.x, box.x), y0 = std::max(b.y, box.y);
    const int x1 = std::min(b.right(), box.right()), y1 = std::min(b.bottom(), box.bottom());
    if (x0 >= x1 || y0 >= y1) return false;
    if (mask.empty()) return true;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        if (mask[size_t(y - box.y) * size_t(box.w) + size_t(x - box.x)]) return true;
    return false;
  }
};

inline bool hidden(const std::vector<Cover>& covers, int x, int y) {
  for (const Cover& c : covers)
    if (c.hides(x, y)) return true;
  return false;
}

inline bool touches(const std::vector<Cover>& covers, const Box& b) {
  for (const Cover& c : covers)
    if (c.touches(b)) return true;
  return false;
}

}  // namespace unmark

// Axis-aligned boxes in pixel coordinates. Unless a name says otherwise a Box is in the frame's
// luma plane, origin top-left, half-open: it covers x..x+w-1, y..y+h-1.
#pragma once

#include <algorithm>
#include <string>

namespace unmark {

struct Box {
  int x = 0, y = 0, w = 0, h = 0;

  bool empty() const { return w <= 0 || h <= 0; }
  int right() const { return x + w; }
  int bottom() const { return y + h; }
  long area() const { return empty() ? 0 : long(w) * h; }
  bool contains(int px, int py) const { return px >= x && px < right() && py >= y && py < bottom(); }
  bool inside(int width, int height) const {
    return x >= 0 && y >= 0 && right() <= width && bottom() <= height && !empty();
  }
  Box grown(int margin) const { return {x - margin, y - margin, w + 2 * margin, h + 2 * margin}; }
  Box clipped(int width, int height) const {
    int x0 = std::clamp(x, 0, width), y0 = std::clamp(y, 0, height);
    int x1 = std::clamp(right(), 0, width), y1 = std::clamp(bottom(), 0, height);
    return {x0, y0, x1 - x0, y1 - y0};
  }
  // The box on a plane subsampled by 2^shift_x, 2^shift_y, rounded outward so that it still covers
  // every chroma sample that any covered luma sample uses.
  Box subsampled(int shift_x, int shift_y) const {
    int x0 = x >> shift_x, y0 = y >> shift_y;
    int x1 = (right() + (1 << shift_x) - 1) >> shift_x;
    int y1 = (bottom() + (1 << shift_y) - 1) >> shift_y;
    return {x0, y0, x1 - x0, y1 - y0};
  }
  std::string to_string() const {
    return std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(w) + "," +
           std::to_string(h);
  }
  friend bool operator==(const Box&, const Box&) = default;
};

}  // namespace unmark

// How the scene moves between two frames around a mark: a dense motion field over one crop of
// the luma plane, measured where both frames show the scene and carried smoothly across where a
// mark hides it. The temporal fill follows it through the frames to where a hidden spot was seen.
#pragma once

#include <optional>
#include <vector>

#include "core/box.h"
#include "core/frame.h"
#include "remove/cover.h"

namespace unmark {

class SceneFlow {
 public:
  // The motion from `from` to `to` over `crop` (luma samples, inside both planes): the scene at
  // p in `from` is at p + at(p) in `to`. Measured by pyramidal Lucas-Kanade on patches of a
  // regular grid, each kept only where neither frame's marks (`from_hidden`, `to_hidden`) touch
  // it, it has texture to go by, and it matches after the move; the grid points left out take a
  // smooth (membrane) fill of the kept ones. Nothing when too few patches could be kept (a scene
  // cut, a crop that is all mark or all flat).
  static std::optional<SceneFlow> measure(const PlaneView& from, const PlaneView& to, const Box& crop,
                                          const std::vector<Cover>& from_hidden, const std::vector<Cover>& to_hidden);

  struct Motion {
    float dx = 0, dy = 0;
  };
  // The motion at a luma position (bilinear between grid points; the nearest beyond the crop).
  Motion at(float x, float y) const;
  const Box& crop() const { return crop_; }
  // Share of the grid measured (not filled in).
  double measured_share() const { return measured_share_; }

 private:
  Box crop_;
  int step_ = 4, cols_ = 0, rows_ = 0;
  std::vector<Motion> grid_;  // rows_ x cols_, point (i, j) at crop_.x + i * step_, crop_.y + j * step_
  double measured_share_ = 0;
};

}  // namespace unmark

// Temporal fill: what a mark hides in one frame, taken from the frames around it that saw that
// spot (a mark that jumps away, as Sora's does, or a scene that moves under a static one).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "core/mark.h"
#include "remove/cover.h"
#include "remove/scene_flow.h"

namespace unmark {

// What is still to be filled on one plane of a frame: `mask` (box.w x box.h, row major, non-zero:
// unknown) over `box`, in that plane's samples.
struct PlaneHoles {
  Box box;
  std::vector<uint8_t> mask;
  int count() const;
  // True when the sample (x, y) of the plane is still to be filled.
  bool unknown(int x, int y) const {
    return box.contains(x, y) && mask[size_t(y - box.y) * size_t(box.w) + size_t(x - box.x)] != 0;
  }
};

// The frames a remover may look across: the segment at hand, and up to `history_frames` frames
// of earlier segments (held by reference after their own removal; their marks' areas, grown by
// `margin`, are never used as a source).
class FrameWindow {
 public:
  FrameWindow(int history_frames, int margin);
  FrameWindow(const FrameWindow&) = delete;
  FrameWindow& operator=(const FrameWindow&) = delete;
  ~FrameWindow();

  // The segment about to be handled (it must stay alive and in place until end()).
  void begin(std::span<SegmentFrame> segment);
  // The segment is done: its frames join the history (the oldest leave it).
  void end();

  // Fills what other frames of the window saw of `holes` (one entry per plane of the frame) in
  // frame `at` of the segment, whose mark's luma area (its box as the remover grew it) is `area`.
  // Filled samples are cleared from the masks; what stays is for spatial inpainting. A frame is a
  // source only when, aligned for the motion between the two (within a few pixels), it agrees
  // with this frame around the area; the nearest in time come first. Returns the luma samples filled.
  int fill(size_t at, const Box& area, std::vector<PlaneHoles>& holes);

  // Fills what is still hidden by following the scene's motion (SceneFlow, measured between
  // neighbouring frames around the area) frame by frame, back and forth in time, to where each
  // hidden sample comes out from under every mark: a static mark over a moving scene, which no
  // single shifted frame shows. Samples reached both ways are averaged, the nearer in time
  // weighing more. A frame whose samples match what the holes show (a mark the detector missed
  // there) is not used. Returns the luma samples filled.
  int follow(size_t at, const Box& area, std::vector<PlaneHoles>& holes);

  struct Stats {
    int64_t hidden = 0;  // luma samples fill() was asked for
    int64_t filled = 0;  // ... and took from other frames
    int64_t followed = 0;  // ... of those, by following the scene's motion (follow())
  };
  const Stats& stats() const { return stats_; }

  struct Source;  // one frame of the window (temporal_fill.cpp)

 private:
  struct Held;
  // The window's frames in time order (history, then the segment), with what their marks hide.
  std::vector<Source> in_time_order() const;
  // The motion between two frames of the window around `crop` (measured once, then cached).
  const std::optional<SceneFlow>& flow_between(const Frame& from, const std::vector<Cover>& from_covered,
                                               const Frame& to, const std::vector<Cover>& to_covered, const Box& crop);
  int history_frames_, margin_;
  std::vector<Held> history_;  // oldest first
  std::span<SegmentFrame> segment_;
  std::vector<std::vector<Cover>> segment_covered_;  // per segment frame: what its marks hide
  // Motion measured between neighbouring frames, by (from index, to index, crop): a static mark's
  // crop is the same in every frame, so each pair is measured once per direction.
  using FlowKey = std::tuple<int64_t, int64_t, int, int, int, int>;
  std::map<FlowKey, std::optional<SceneFlow>> flows_;
  Stats stats_;
};

}  // namespace unmark

// Temporal fill: what a mark hides in one frame, taken from the frames around it that saw that
// spot (a mark that jumps away, as Sora's does, or a scene that moves under a static one).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/mark.h"

namespace unmark {

// What is still to be filled on one plane of a frame: `mask` (box.w x box.h, row major, non-zero:
// unknown) over `box`, in that plane's samples.
struct PlaneHoles {
  Box box;
  std::vector<uint8_t> mask;
  int count() const;
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

  struct Stats {
    int64_t hidden = 0;  // luma samples fill() was asked for
    int64_t filled = 0;  // ... and took from other frames
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Held;
  int history_frames_, margin_;
  std::vector<Held> history_;  // oldest first
  std::span<SegmentFrame> segment_;
  std::vector<std::vector<Box>> segment_covered_;  // per segment frame: the luma areas its marks hide
  Stats stats_;
};

}  // namespace unmark

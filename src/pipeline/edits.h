// Transcode operations a job may ask for besides removal: trim, scale, a constant frame rate and
// dropping audio. Documented operations with checked values, never raw ffmpeg arguments.
//
//   EditSettings e;  e.start = 2; e.end = 7; e.width = 1280; e.fps = 30; e.audio = false;
//   validate_edits(e);  // throws Error{usage} naming the bad value
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/frame.h"

extern "C" {
struct SwsContext;
}

namespace unmark {

struct EditSettings {
  double start = 0;          // seconds from the video's start; earlier frames and packets are cut
  double end = -1;           // seconds from the video's start; < 0: to the end
  int width = 0, height = 0; // output size; both 0: the input's; one 0: from the other, aspect kept
  double fps = 0;            // constant output frame rate; 0: the input's frame timing, kept as is
  bool audio = true;         // false: no audio streams in the output

  bool trims() const { return start > 0 || end >= 0; }
  bool scales() const { return width > 0 || height > 0; }
};

void validate_edits(const EditSettings& edits);

// The output size for an input of `in_w` x `in_h`: the asked size, the missing side from the
// aspect ratio, rounded to even numbers (4:2:0 needs them).
std::pair<int, int> edited_size(const EditSettings& edits, int in_w, int in_h);

// Resizes whole frames (after removal, which works at the source size), keeping the pixel format.
class FrameScaler {
 public:
  FrameScaler(int out_w, int out_h) : out_w_(out_w), out_h_(out_h) {}
  ~FrameScaler();
  FrameScaler(const FrameScaler&) = delete;
  FrameScaler& operator=(const FrameScaler&) = delete;
  // A new frame of the output size with `in`'s timing and colour properties.
  Frame scale(const Frame& in);

 private:
  int out_w_, out_h_;
  SwsContext* sws_ = nullptr;
  int in_w_ = 0, in_h_ = 0, in_fmt_ = -1;
};

// Constant frame rate by dropping and repeating frames, as ffmpeg's fps filter does: output slot n
// (time n / fps) shows the last input frame whose time rounds to n or earlier. One frame is held
// back, because how often it repeats depends on when the next one starts.
class FrameRateConverter {
 public:
  explicit FrameRateConverter(double fps) : fps_(fps) {}
  // A frame starting at `time` seconds arrives. Returns how many slots the frame before it fills
  // (0: it is dropped, replaced by this one). The first call returns 0.
  int64_t push(double time);
  // The video ended at `end_time` seconds: how many slots the held frame fills.
  int64_t finish(double end_time);
  // The next slot to fill: the output pts of the next frame sent (time base 1/fps).
  int64_t next_slot() const { return next_; }
  void advance(int64_t slots) { next_ += slots; }

 private:
  double fps_;
  int64_t next_ = 0;
  bool holding_ = false;
};

}  // namespace unmark

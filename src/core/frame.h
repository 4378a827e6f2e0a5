// A decoded video frame as it flows through the pipeline: the decoder's own AVFrame in its native
// planar YUV (never converted to RGB), plus where it sits in the video. Frames move from stage to
// stage; whoever holds one owns it.
#pragma once

#include <cstdint>

#include "core/av_ptr.h"
#include "core/box.h"

namespace unmark {

// One plane of a frame, seen as a 2-D array of samples. Samples are uint8_t for 8-bit formats and
// uint16_t (native endian) for 9..16-bit formats; stride is in bytes.
struct PlaneView {
  uint8_t* data = nullptr;
  std::ptrdiff_t stride = 0;
  int width = 0, height = 0;  // in samples of this plane
  int shift_x = 0, shift_y = 0;  // subsampling of this plane relative to luma
  int bit_depth = 8;

  bool wide() const { return bit_depth > 8; }
  int max_value() const { return (1 << bit_depth) - 1; }
};

struct Frame {
  AVFramePtr av;           // planes, pts, colour properties; owned
  int64_t index = 0;       // 0-based position in decode (display) order
  double time = 0.0;       // seconds from the start of the video stream
  int64_t duration = 0;    // in the stream's time base; 0 when unknown

  int width() const { return av->width; }
  int height() const { return av->height; }
  // Number of planes of the frame's planar YUV format (3, or 1 for gray).
  int plane_count() const;
  PlaneView plane(int i) const;
  // Bytes of pixel data the frame holds (its buffers), for memory budgets.
  size_t bytes() const;
  // Makes the pixel data private to this frame (copies it only if the decoder still shares it),
  // so a remover may write into it. Throws Error on allocation failure.
  void make_writable();
};

// True for the planar YUV/gray formats the CPU stages work on directly (8 to 16 bits).
bool is_supported_planar_format(int av_pix_fmt);

}  // namespace unmark

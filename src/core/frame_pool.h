// Recycled buffers for the frames a remover writes into. A decoder's frame is shared with the
// decoder (it predicts from it), so writing needs a private copy; allocating that copy fresh each
// frame costs more than the copy itself (a 3 MB allocation is a fresh mmap whose every page faults
// and is zeroed by the kernel: ~10% of a 1080p run's CPU). The pool hands back the same buffers.
#pragma once

#include <mutex>

#include "core/av_ptr.h"
#include "core/frame.h"

namespace unmark {

class FramePool {
 public:
  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  ~FramePool();

  // Gives `frame` private pixel data (a pooled copy) unless it already has it. Thread-safe.
  // Throws Error{processing} on allocation failure.
  void make_writable(Frame& frame);

 private:
  std::mutex mutex_;
  AVBufferPool* pool_ = nullptr;  // buffers of size_ bytes, for format_/width_/height_
  int format_ = -1, width_ = 0, height_ = 0, size_ = 0;
};

}  // namespace unmark

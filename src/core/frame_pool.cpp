#include "core/frame_pool.h"

extern "C" {
#include <libavutil/imgutils.h>
}

#include "core/error.h"

namespace unmark {

namespace {
constexpr int kAlign = 64;  // what libav's SIMD wants for every plane's start and stride
}

FramePool::~FramePool() { av_buffer_pool_uninit(&pool_); }

void FramePool::make_writable(Frame& frame) {
  AVFrame* src = frame.av.get();
  if (av_frame_is_writable(src)) return;
  AVBufferRef* buf = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!pool_ || format_ != src->format || width_ != src->width || height_ != src->height) {
      // Buffers already handed out keep the old pool alive until they are freed.
      av_buffer_pool_uninit(&pool_);
      int size = av_image_get_buffer_size(AVPixelFormat(src->format), src->width, src->height, kAlign);
      check(size, "remove", ErrorKind::processing, "frame buffer size");
      pool_ = av_buffer_pool_init(size_t(size) + kAlign, nullptr);
      if (!pool_) throw std::bad_alloc();
      format_ = src->format;
      width_ = src->width;
      height_ = src->height;
      size_ = size;
    }
    buf = av_buffer_pool_get(pool_);
  }
  if (!buf) throw std::bad_alloc();

  AVFramePtr dst = make_av_frame();
  dst->format = src->format;
  dst->width = src->width;
  dst->height = src->height;
  dst->buf[0] = buf;
  uint8_t* base = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(buf->data) + kAlign - 1) & ~uintptr_t(kAlign - 1));
  check(av_image_fill_arrays(dst->data, dst->linesize, base, AVPixelFormat(src->format), src->width,
                             src->height, kAlign),
        "remove", ErrorKind::processing, "frame layout");
  dst->extended_data = dst->data;
  check(av_frame_copy(dst.get(), src), "remove", ErrorKind::processing, "frame copy");
  check(av_frame_copy_props(dst.get(), src), "remove", ErrorKind::processing, "frame props");
  frame.av = std::move(dst);
}

}  // namespace unmark

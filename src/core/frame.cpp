#include "core/frame.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "core/error.h"

namespace unmark {

bool is_supported_planar_format(int av_pix_fmt) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(av_pix_fmt));
  if (!d) return false;
  const uint64_t unsupported = AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
                               AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER |
                               AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BE;
  if (d->flags & unsupported) return false;
  if (!(d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components > 1) return false;
  if (d->nb_components != 1 && d->nb_components != 3 && d->nb_components != 4) return false;
  // Every component in its own plane, samples of 8 or 16 bits, no packing.
  for (int c = 0; c < d->nb_components; ++c) {
    const AVComponentDescriptor& comp = d->comp[c];
    if (comp.shift != 0 || comp.offset != 0) return false;
    if (comp.step != (comp.depth > 8 ? 2 : 1)) return false;
  }
  return true;
}

size_t Frame::bytes() const {
  size_t total = 0;
  for (const AVBufferRef* b : av->buf)
    if (b) total += b->size;
  return total;
}

int Frame::plane_count() const {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(av->format));
  return d->nb_components >= 3 ? 3 : 1;  // alpha (4th) plane is left alone
}

PlaneView Frame::plane(int i) const {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(av->format));
  PlaneView p;
  p.data = av->data[i];
  p.stride = av->linesize[i];
  const bool chroma = (i == 1 || i == 2);
  p.shift_x = chroma ? d->log2_chroma_w : 0;
  p.shift_y = chroma ? d->log2_chroma_h : 0;
  p.width = AV_CEIL_RSHIFT(av->width, p.shift_x);
  p.height = AV_CEIL_RSHIFT(av->height, p.shift_y);
  p.bit_depth = d->comp[i].depth;
  return p;
}

void Frame::make_writable() {
  check(av_frame_make_writable(av.get()), "remove", ErrorKind::processing,
        "cannot make frame " + std::to_string(index) + " writable");
}

AVFramePtr make_av_frame() {
  AVFrame* f = av_frame_alloc();
  if (!f) throw std::bad_alloc();
  return AVFramePtr(f);
}

AVPacketPtr make_av_packet() {
  AVPacket* p = av_packet_alloc();
  if (!p) throw std::bad_alloc();
  return AVPacketPtr(p);
}

}  // namespace unmark

#include "pipeline/edits.h"

#include <cmath>

extern "C" {
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include "core/error.h"

namespace unmark {

void validate_edits(const EditSettings& e) {
  auto bad = [](const std::string& why) { throw Error("cli", ErrorKind::usage, why); };
  if (!(e.start >= 0) || !std::isfinite(e.start)) bad("the start must be 0 or more seconds");
  if (e.end >= 0 && e.end <= e.start) bad("the end must come after the start");
  if (e.width < 0 || e.height < 0 || e.width > 16384 || e.height > 16384) bad("the size must be from 2 to 16384 pixels");
  if ((e.width > 0 && e.width < 2) || (e.height > 0 && e.height < 2)) bad("the size must be from 2 to 16384 pixels");
  if (e.fps != 0 && !(e.fps >= 1 && e.fps <= 240)) bad("the frame rate must be from 1 to 240");
}

std::pair<int, int> edited_size(const EditSettings& e, int in_w, int in_h) {
  auto even = [](double v) { return std::max(2, int(std::lround(v / 2)) * 2); };
  if (e.width > 0 && e.height > 0) return {even(e.width), even(e.height)};
  if (e.width > 0) return {even(e.width), even(double(in_h) * e.width / in_w)};
  if (e.height > 0) return {even(double(in_w) * e.height / in_h), even(e.height)};
  return {in_w, in_h};
}

FrameScaler::~FrameScaler() { sws_freeContext(sws_); }

Frame FrameScaler::scale(const Frame& in) {
  const AVFrame* src = in.av.get();
  if (!sws_ || src->width != in_w_ || src->height != in_h_ || src->format != in_fmt_) {
    sws_freeContext(sws_);
    sws_ = sws_getContext(src->width, src->height, AVPixelFormat(src->format), out_w_, out_h_,
                          AVPixelFormat(src->format), SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    if (!sws_) throw Error("scale", ErrorKind::unsupported, "cannot scale this pixel format");
    in_w_ = src->width;
    in_h_ = src->height;
    in_fmt_ = src->format;
  }
  Frame out;
  out.av = make_av_frame();
  AVFrame* dst = out.av.get();
  dst->format = src->format;
  dst->width = out_w_;
  dst->height = out_h_;
  check(av_frame_get_buffer(dst, 0), "scale", ErrorKind::processing, "frame allocation");
  check(av_frame_copy_props(dst, src), "scale", ErrorKind::processing, "frame properties");
  sws_scale(sws_, src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
  out.index = in.index;
  out.time = in.time;
  out.duration = in.duration;
  return out;
}

int64_t FrameRateConverter::push(double time) {
  const int64_t slot = std::llround(time * fps_);
  if (!holding_) {
    holding_ = true;
    return 0;
  }
  return std::max<int64_t>(0, slot - next_);
}

int64_t FrameRateConverter::finish(double end_time) {
  if (!holding_) return 0;
  holding_ = false;
  // A last frame whose start rounds to the end slot falls outside the output's length; only a
  // video of one frame keeps it.
  return std::max<int64_t>(next_ == 0 ? 1 : 0, std::llround(end_time * fps_) - next_);
}

}  // namespace unmark

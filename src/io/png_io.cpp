#include "io/png_io.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

#include "core/av_ptr.h"
#include "core/error.h"

namespace unmark {

namespace {

struct CodecCtxDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
using CodecCtx = std::unique_ptr<AVCodecContext, CodecCtxDeleter>;

uint16_t swap16(uint16_t v) { return uint16_t((v >> 8) | (v << 8)); }

}  // namespace

void write_png(const std::string& path, const cv::Mat& image) {
  auto fail = [&](const std::string& why) { throw Error("png", ErrorKind::output, "cannot write '" + path + "': " + why); };
  const int channels = image.channels();
  const bool wide = image.depth() == CV_16U;
  if ((image.depth() != CV_8U && !wide) || (channels != 1 && channels != 3 && channels != 4) || image.empty())
    fail("unsupported image type");
  static const AVPixelFormat formats[2][5] = {
      {AV_PIX_FMT_NONE, AV_PIX_FMT_GRAY8, AV_PIX_FMT_NONE, AV_PIX_FMT_RGB24, AV_PIX_FMT_RGBA},
      {AV_PIX_FMT_NONE, AV_PIX_FMT_GRAY16BE, AV_PIX_FMT_NONE, AV_PIX_FMT_RGB48BE, AV_PIX_FMT_RGBA64BE}};
  const AVPixelFormat fmt = formats[wide][channels];
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!codec) fail("this FFmpeg has no PNG encoder");
  CodecCtx ctx(avcodec_alloc_context3(codec));
  ctx->width = image.cols;
  ctx->height = image.rows;
  ctx->pix_fmt = fmt;
  ctx->time_base = {1, 1};
  if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) fail(av_error_text(err));

  // PNG stores RGB order and big-endian samples; OpenCV holds BGR and native order.
  AVFramePtr frame = make_av_frame();
  frame->format = fmt;
  frame->width = image.cols;
  frame->height = image.rows;
  if (av_frame_get_buffer(frame.get(), 0) < 0) fail("out of memory");
  for (int y = 0; y < image.rows; ++y) {
    uint8_t* dst = frame->data[0] + ptrdiff_t(y) * frame->linesize[0];
    if (wide) {
      const uint16_t* src = image.ptr<uint16_t>(y);
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int x = 0; x < image.cols; ++x)
        for (int c = 0; c < channels; ++c) {
          int from = (channels >= 3 && c < 3) ? 2 - c : c;
          out[x * channels + c] = swap16(src[x * channels + from]);
        }
    } else {
      const uint8_t* src = image.ptr<uint8_t>(y);
      for (int x = 0; x < image.cols; ++x)
        for (int c = 0; c < channels; ++c) {
          int from = (channels >= 3 && c < 3) ? 2 - c : c;
          dst[x * channels + c] = src[x * channels + from];
        }
    }
  }
  AVPacketPtr pkt = make_av_packet();
  if (int err = avcodec_send_frame(ctx.get(), frame.get()); err < 0) fail(av_error_text(err));
  if (int err = avcodec_receive_packet(ctx.get(), pkt.get()); err < 0) fail(av_error_text(err));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(pkt->data), pkt->size);
  out.close();
  if (!out) fail("the write failed");
}

cv::Mat decode_png(const uint8_t* data, size_t size) {
  auto fail = [](const std::string& why) -> cv::Mat { throw Error("png", ErrorKind::input, "not a readable PNG: " + why); };
  if (size < 8 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) return fail("no PNG signature");
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
  if (!codec) return fail("this FFmpeg has no PNG decoder");
  CodecCtx ctx(avcodec_alloc_context3(codec));
  if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) return fail(av_error_text(err));
  AVPacketPtr pkt = make_av_packet();
  if (av_new_packet(pkt.get(), int(size)) < 0) return fail("out of memory");
  std::memcpy(pkt->data, data, size);
  AVFramePtr frame = make_av_frame();
  if (int err = avcodec_send_packet(ctx.get(), pkt.get()); err < 0) return fail(av_error_text(err));
  if (int err = avcodec_receive_frame(ctx.get(), frame.get()); err < 0) return fail(av_error_text(err));

  AVFrame* f = frame.get();
  AVPixelFormat fmt = AVPixelFormat(f->format);
  AVFramePtr converted;
  // Palettes, gray with alpha and bit-packed images: to RGBA at their depth first.
  const bool direct = fmt == AV_PIX_FMT_GRAY8 || fmt == AV_PIX_FMT_GRAY16BE || fmt == AV_PIX_FMT_RGB24 ||
                      fmt == AV_PIX_FMT_RGBA || fmt == AV_PIX_FMT_RGB48BE || fmt == AV_PIX_FMT_RGBA64BE;
  if (!direct) {
    const bool deep = fmt == AV_PIX_FMT_YA16BE;
    converted = make_av_frame();
    converted->format = deep ? AV_PIX_FMT_RGBA64BE : AV_PIX_FMT_RGBA;
    converted->width = f->width;
    converted->height = f->height;
    if (av_frame_get_buffer(converted.get(), 0) < 0) return fail("out of memory");
    SwsContext* sws = sws_getContext(f->width, f->height, fmt, f->width, f->height, AVPixelFormat(converted->format),
                                     SWS_POINT, nullptr, nullptr, nullptr);
    if (!sws) return fail("unsupported pixel layout");
    sws_scale(sws, f->data, f->linesize, 0, f->height, converted->data, converted->linesize);
    sws_freeContext(sws);
    f = converted.get();
    fmt = AVPixelFormat(f->format);
  }
  const bool wide = fmt == AV_PIX_FMT_GRAY16BE || fmt == AV_PIX_FMT_RGB48BE || fmt == AV_PIX_FMT_RGBA64BE;
  const int channels = (fmt == AV_PIX_FMT_GRAY8 || fmt == AV_PIX_FMT_GRAY16BE) ? 1
                       : (fmt == AV_PIX_FMT_RGB24 || fmt == AV_PIX_FMT_RGB48BE) ? 3
                                                                                 : 4;
  cv::Mat image(f->height, f->width, CV_MAKETYPE(wide ? CV_16U : CV_8U, channels));
  for (int y = 0; y < f->height; ++y) {
    const uint8_t* src = f->data[0] + ptrdiff_t(y) * f->linesize[0];
    for (int x = 0; x < f->width; ++x)
      for (int c = 0; c < channels; ++c) {
        int to = (channels >= 3 && c < 3) ? 2 - c : c;
        if (wide) image.ptr<uint16_t>(y)[x * channels + to] = swap16(reinterpret_cast<const uint16_t*>(src)[x * channels + c]);
        else image.ptr<uint8_t>(y)[x * channels + to] = src[x * channels + c];
      }
  }
  return image;
}

cv::Mat read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("png", ErrorKind::input, "cannot read '" + path + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return decode_png(bytes.data(), bytes.size());
  } catch (const Error& e) {
    throw Error("png", ErrorKind::input, "'" + path + "' is " + e.what());
  }
}

}  // namespace unmark

#include "gpu/codec_checks.h"

#include <cstring>
#include <functional>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
}

#include "core/av_ptr.h"
#include "core/error.h"
#include "gpu/cuda_frames.h"
#include "gpu/device.h"

namespace unmark::gpu {

namespace {

struct CodecCtxDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
using CodecCtx = std::unique_ptr<AVCodecContext, CodecCtxDeleter>;

// Encodes frames with `codec`; the packets go to `packets` when given.
std::string encode_frames(const char* codec_name, std::vector<AVPacketPtr>* packets) {
  const AVCodec* codec = avcodec_find_encoder_by_name(codec_name);
  if (!codec) return std::string(codec_name) + " is not in this FFmpeg build";
  CodecCtx ctx(avcodec_alloc_context3(codec));
  ctx->width = 256;
  ctx->height = 256;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = {1, 25};
  ctx->framerate = {25, 1};
  ctx->gop_size = 10;
  ctx->max_b_frames = 0;
  if (std::string(codec_name) == "libx264") av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
  if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0)
    return std::string("cannot open ") + codec_name + ": " + av_error_text(err);
  AVFramePtr frame = make_av_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = 256;
  frame->height = 256;
  if (av_frame_get_buffer(frame.get(), 0) < 0) return "out of memory";
  AVPacketPtr pkt = make_av_packet();
  int got = 0;
  for (int i = 0; i <= 10; ++i) {
    AVFrame* send = nullptr;
    if (i < 10) {
      av_frame_make_writable(frame.get());
      for (int p = 0; p < 3; ++p)
        for (int y = 0; y < (p ? 128 : 256); ++y)
          for (int x = 0; x < (p ? 128 : 256); ++x) frame->data[p][y * frame->linesize[p] + x] = uint8_t(x + y + i * 3 + p * 40);
      frame->pts = i;
      send = frame.get();
    }
    if (int err = avcodec_send_frame(ctx.get(), send); err < 0)
      return std::string(codec_name) + " refused a frame: " + av_error_text(err);
    while (avcodec_receive_packet(ctx.get(), pkt.get()) == 0) {
      ++got;
      if (packets) {
        AVPacketPtr copy = make_av_packet();
        av_packet_ref(copy.get(), pkt.get());
        packets->push_back(std::move(copy));
      }
      av_packet_unref(pkt.get());
    }
  }
  return got > 0 ? "" : std::string(codec_name) + " produced no packets";
}

}  // namespace

std::string encode_trial(const char* codec) {
  if (std::string(codec) == "h264_nvenc" && fault_injected("nvenc")) return "NVENC failed (injected by UNMARK_FAULT=nvenc)";
  return encode_frames(codec, nullptr);
}

namespace {

// Decodes a generated H.264 clip with NVDEC and hands each CUDA frame to `on_frame`, which
// returns "" to go on or what was wrong. Returns "" when it all worked.
std::string decode_on_nvdec(const std::function<std::string(const AVFrame*)>& on_frame) {
  if (fault_injected("nvdec")) return "NVDEC failed (injected by UNMARK_FAULT=nvdec)";
  AVBufferRef* device = nullptr;
  if (int err = av_hwdevice_ctx_create(&device, AV_HWDEVICE_TYPE_CUDA, nullptr, nullptr, 0); err < 0)
    return "no CUDA device for libavcodec: " + av_error_text(err);
  std::unique_ptr<AVBufferRef, void (*)(AVBufferRef*)> device_ref(device, [](AVBufferRef* b) { av_buffer_unref(&b); });
  std::vector<AVPacketPtr> packets;
  if (std::string why = encode_frames("libx264", &packets); !why.empty()) return "cannot make a test clip: " + why;
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  CodecCtx ctx(avcodec_alloc_context3(codec));
  ctx->hw_device_ctx = av_buffer_ref(device);
  ctx->get_format = [](AVCodecContext*, const AVPixelFormat* formats) {
    for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f)
      if (*f == AV_PIX_FMT_CUDA) return *f;
    return AV_PIX_FMT_NONE;  // no CUDA output offered: NVDEC cannot take this stream
  };
  if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) return "cannot open the decoder: " + av_error_text(err);
  AVFramePtr frame = make_av_frame();
  int cuda_frames = 0;
  for (size_t i = 0; i <= packets.size(); ++i) {
    if (int err = avcodec_send_packet(ctx.get(), i < packets.size() ? packets[i].get() : nullptr); err < 0)
      return "NVDEC refused a packet: " + av_error_text(err);
    int err;
    while ((err = avcodec_receive_frame(ctx.get(), frame.get())) == 0) {
      if (frame->format == AV_PIX_FMT_CUDA) {
        ++cuda_frames;
        if (std::string why = on_frame(frame.get()); !why.empty()) return why;
      }
      av_frame_unref(frame.get());
    }
    if (err != AVERROR(EAGAIN) && err != AVERROR_EOF) return "NVDEC failed: " + av_error_text(err);
  }
  if (cuda_frames == 0) return "the decoder gave no CUDA frames (NVDEC not used)";
  return "";
}

}  // namespace

std::string nvdec_trial() {
  return decode_on_nvdec([](const AVFrame*) { return std::string(); });
}

std::string kernel_trial() {
  std::unique_ptr<CudaFrameDownload> down;
  std::string unavailable;
  return decode_on_nvdec([&](const AVFrame* frame) -> std::string {
    if (!down && unavailable.empty() && !(down = CudaFrameDownload::create(frame, &unavailable))) return unavailable;
    AVFramePtr split;
    try {
      split = down->download(frame);
    } catch (const Error& e) {
      return e.what();
    }
    AVFramePtr nv12 = make_av_frame();  // libavcodec's download: the reference
    if (int err = av_hwframe_transfer_data(nv12.get(), frame, 0); err < 0) return "libavcodec's download failed: " + av_error_text(err);
    for (int y = 0; y < frame->height; ++y)
      if (std::memcmp(split->data[0] + y * split->linesize[0], nv12->data[0] + y * nv12->linesize[0], size_t(frame->width)) != 0)
        return "the GPU download's luma differs from libavcodec's at row " + std::to_string(y);
    for (int y = 0; y < (frame->height + 1) / 2; ++y)
      for (int x = 0; x < (frame->width + 1) / 2; ++x) {
        const uint8_t* uv = nv12->data[1] + y * nv12->linesize[1] + 2 * x;
        if (split->data[1][y * split->linesize[1] + x] != uv[0] || split->data[2][y * split->linesize[2] + x] != uv[1])
          return "the GPU's chroma split differs from libavcodec's at " + std::to_string(x) + "," + std::to_string(y);
      }
    return "";
  });
}

}  // namespace unmark::gpu

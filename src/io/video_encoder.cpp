#include "io/video_encoder.h"

#include <map>
#include <mutex>

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "core/error.h"
#include "core/fault.h"
#include "core/log.h"

namespace unmark {
namespace {

struct Backend {
  const char* name;
  const char* codec;
  const char* description;
  bool hardware;
};

// In order of preference for "auto".
constexpr Backend kBackends[] = {
    {"nvenc", "h264_nvenc", "NVIDIA NVENC H.264", true},
    {"x264", "libx264", "libx264 H.264 (CPU)", false},
    {"x265", "libx265", "libx265 HEVC (CPU)", false},
};
constexpr const char* kAutoFallbackOrder[] = {"nvenc", "x264"};

const Backend* find_backend(const std::string& name) {
  for (const Backend& b : kBackends)
    if (name == b.name) return &b;
  return nullptr;
}

// Maps x264-style preset names onto NVENC's p1 (fastest) .. p7 (best).
const char* nvenc_preset(const std::string& preset) {
  static const std::map<std::string, const char*> table = {
      {"ultrafast", "p1"}, {"superfast", "p1"}, {"veryfast", "p2"}, {"faster", "p3"},
      {"fast", "p4"},      {"medium", "p5"},    {"slow", "p6"},     {"slower", "p7"},
      {"veryslow", "p7"},  {"placebo", "p7"}};
  auto it = table.find(preset);
  return it == table.end() ? preset.c_str() : it->second;
}

void apply_settings(AVCodecContext* ctx, const Backend& b, const EncoderSettings& s) {
  if (b.hardware) {
    av_opt_set(ctx->priv_data, "preset", nvenc_preset(s.preset), 0);
    av_opt_set(ctx->priv_data, "rc", "vbr", 0);
    av_opt_set_int(ctx->priv_data, "cq", s.crf, 0);
    ctx->bit_rate = 0;
  } else {
    av_opt_set(ctx->priv_data, "preset", s.preset.c_str(), 0);
    av_opt_set_double(ctx->priv_data, "crf", s.crf, 0);
    if (std::string(b.codec) == "libx265") av_opt_set(ctx->priv_data, "x265-params", "log-level=error", 0);
  }
}

// The encoder's pixel format for frames in `fmt`: `fmt` itself when the encoder takes it.
AVPixelFormat choose_pix_fmt(const AVCodec* codec, AVPixelFormat fmt) {
  if (!codec->pix_fmts) return fmt;
  for (const AVPixelFormat* p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == fmt) return fmt;
  return avcodec_find_best_pix_fmt_of_list(codec->pix_fmts, fmt, 0, nullptr);
}

class LavcVideoEncoder final : public VideoEncoder {
 public:
  LavcVideoEncoder(const Backend& backend, const EncoderSettings& settings, const VideoFormat& fmt)
      : name_(backend.name) {
    const AVCodec* codec = avcodec_find_encoder_by_name(backend.codec);
    if (!codec)
      throw Error("encode", ErrorKind::unsupported,
                  std::string(backend.codec) + " is not in this FFmpeg build");
    AVPixelFormat in_fmt = AVPixelFormat(fmt.pix_fmt);
    AVPixelFormat enc_fmt = choose_pix_fmt(codec, in_fmt);
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(enc_fmt);
    if (((fmt.width >> d->log2_chroma_w) << d->log2_chroma_w) != fmt.width ||
        ((fmt.height >> d->log2_chroma_h) << d->log2_chroma_h) != fmt.height) {
      throw Error("encode", ErrorKind::unsupported,
                  std::string(backend.codec) + " cannot encode a " + std::to_string(fmt.width) +
                      "x" + std::to_string(fmt.height) + " frame in " + av_get_pix_fmt_name(enc_fmt) +
                      ": H.264/HEVC need even dimensions with subsampled chroma");
    }

    ctx_.reset(avcodec_alloc_context3(codec));
    if (!ctx_) throw std::bad_alloc();
    ctx_->width = fmt.width;
    ctx_->height = fmt.height;
    ctx_->pix_fmt = enc_fmt;
    ctx_->time_base = fmt.time_base;
    ctx_->framerate = fmt.frame_rate;
    ctx_->sample_aspect_ratio = fmt.sample_aspect_ratio;
    ctx_->color_primaries = fmt.primaries;
    ctx_->color_trc = fmt.transfer;
    ctx_->colorspace = fmt.matrix;
    ctx_->color_range = fmt.range;
    ctx_->chroma_sample_location = fmt.chroma_location;
    ctx_->thread_count = settings.threads;
    if (fmt.global_header) ctx_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    apply_settings(ctx_.get(), backend, settings);
    check(avcodec_open2(ctx_.get(), codec, nullptr), "encode", ErrorKind::unsupported,
          std::string("cannot open ") + backend.codec);

    if (enc_fmt != in_fmt) {
      log_for("encode")->warn("{} does not take {}, converting frames to {}", backend.codec,
                              av_get_pix_fmt_name(in_fmt), av_get_pix_fmt_name(enc_fmt));
      sws_.reset(sws_getContext(fmt.width, fmt.height, in_fmt, fmt.width, fmt.height, enc_fmt,
                                SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
      if (!sws_) throw Error("encode", ErrorKind::unsupported, "cannot convert frames for the encoder");
    }
    log_for("encode")->info("{} ok: {}x{} {} crf {} preset {}", name_, fmt.width, fmt.height,
                            av_get_pix_fmt_name(enc_fmt), settings.crf, settings.preset);
  }

  const std::string& name() const override { return name_; }
  const AVCodecContext* context() const override { return ctx_.get(); }

  void encode(const Frame* frame, const PacketSink& sink) override {
    int err;
    if (frame) {
      // The muxer needs each packet's duration (the last frame's sets the file's duration); x264
      // reorders frames, so remember durations by pts.
      durations_[frame->av->pts] = frame->duration;
      AVFrame* src = frame->av.get();
      AVFramePtr converted;
      if (sws_) converted = convert(src);
      AVFrame* in = converted ? converted.get() : src;
      in->pict_type = AV_PICTURE_TYPE_NONE;
      err = avcodec_send_frame(ctx_.get(), in);
    } else {
      err = avcodec_send_frame(ctx_.get(), nullptr);
    }
    if (err < 0 && err != AVERROR_EOF) check(err, "encode", ErrorKind::processing, name_ + " failed");
    AVPacketPtr pkt = make_av_packet();
    for (;;) {
      err = avcodec_receive_packet(ctx_.get(), pkt.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check(err, "encode", ErrorKind::processing, name_ + " failed");
      if (auto it = durations_.find(pkt->pts); it != durations_.end()) {
        if (it->second > 0) pkt->duration = it->second;
        durations_.erase(it);
      }
      sink(pkt.get());
      av_packet_unref(pkt.get());
    }
  }

 private:
  AVFramePtr convert(const AVFrame* src) {
    AVFramePtr dst = make_av_frame();
    dst->format = ctx_->pix_fmt;
    dst->width = src->width;
    dst->height = src->height;
    check(av_frame_get_buffer(dst.get(), 0), "encode", ErrorKind::processing, "frame allocation");
    check(av_frame_copy_props(dst.get(), src), "encode", ErrorKind::processing, "frame props");
    sws_scale(sws_.get(), src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
    return dst;
  }

  std::string name_;
  AVCodecContextPtr ctx_;
  SwsContextPtr sws_;
  std::map<int64_t, int64_t> durations_;
};

// Opens a tiny encoder to learn whether the back-end works here (NVENC needs a GPU and driver).
EncoderInfo probe(const Backend& b) {
  EncoderInfo info{b.name, b.codec, false, {}};
  const AVCodec* codec = avcodec_find_encoder_by_name(b.codec);
  if (!codec) {
    info.reason = std::string(b.codec) + " is not in this FFmpeg build";
    return info;
  }
  if (!b.hardware) {
    info.available = true;
    return info;
  }
  if (fault_injected("nvenc")) {
    info.reason = "NVENC failed (injected by UNMARK_FAULT=nvenc)";
    return info;
  }
  AVCodecContextPtr ctx(avcodec_alloc_context3(codec));
  ctx->width = 256;
  ctx->height = 256;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = {1, 25};
  int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    info.reason = "cannot open " + std::string(b.codec) + " (" + av_error_text(err) +
                  "): no NVIDIA GPU with NVENC and driver here";
    return info;
  }
  info.available = true;
  return info;
}

// Each back-end is probed once per process, when first asked about: probing NVENC creates a CUDA
// context (a few hundred ms on a GPU machine), which a job that names x264 should not pay.
const EncoderInfo& info_for(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, EncoderInfo> infos;
  const Backend* backend = find_backend(name);
  if (!backend) throw Error("encode", ErrorKind::internal, "no encoder info for " + name);
  std::lock_guard lock(mutex);
  auto it = infos.find(name);
  if (it == infos.end()) it = infos.emplace(name, probe(*backend)).first;
  return it->second;  // std::map: references stay valid
}

}  // namespace

std::vector<EncoderInfo> list_video_encoders() {
  std::vector<EncoderInfo> out;
  for (const Backend& b : kBackends) out.push_back(info_for(b.name));
  return out;
}

EncoderInfo video_encoder_info(const std::string& name) { return info_for(name); }

void validate_encoder_name(const std::string& name) {
  if (name == "auto" || find_backend(name)) return;
  throw Error("cli", ErrorKind::usage,
              "--encoder '" + name + "' is not known (choose auto, x264, x265 or nvenc)");
}

std::unique_ptr<VideoEncoder> open_video_encoder(const EncoderSettings& settings,
                                                 const VideoFormat& format) {
  validate_encoder_name(settings.name);
  auto log = log_for("encode");
  if (settings.name != "auto") {
    const EncoderInfo& info = info_for(settings.name);
    if (!info.available)
      throw Error("encode", ErrorKind::unsupported,
                  settings.name + " is not available: " + info.reason);
    return std::make_unique<LavcVideoEncoder>(*find_backend(settings.name), settings, format);
  }
  // One level at a time: a back-end that is missing or fails to open is named in one line, and
  // the next one is tried; when the last one fails, its own reason is the error.
  // The log says it as the old worker did: "nvenc failed (why), using libx264".
  std::string passed_over;
  const std::size_t count = std::size(kAutoFallbackOrder);
  for (std::size_t i = 0; i < count; ++i) {
    const char* name = kAutoFallbackOrder[i];
    const EncoderInfo& info = info_for(name);
    std::string reason = info.reason;
    bool failed_open = false;  // present but would not take this video: a warning, not the usual
    if (info.available) {
      try {
        std::unique_ptr<VideoEncoder> encoder = std::make_unique<LavcVideoEncoder>(*find_backend(name), settings, format);
        encoder->passed_over = passed_over;
        return encoder;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::unsupported || i + 1 == count) throw;
        reason = e.what();
        failed_open = true;
      }
    }
    if (i + 1 < count)
      log->log(failed_open ? spdlog::level::warn : spdlog::level::info, "{} failed ({}), using {}", name, reason,
               find_backend(kAutoFallbackOrder[i + 1])->codec);
    passed_over += std::string(passed_over.empty() ? "" : "; ") + name + " not used: " + reason;
  }
  throw Error("encode", ErrorKind::unsupported, "no video encoder is available: " + passed_over);
}

}  // namespace unmark

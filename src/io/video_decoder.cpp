#include "io/video_decoder.h"

#include <algorithm>
#include <thread>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

#include <mutex>

#include "core/error.h"
#include "core/fault.h"
#include "core/log.h"
#include "gpu/cuda_frames.h"

namespace unmark {
namespace {

// The planar YUV format closest to `fmt` that the CPU stages handle, keeping depth and chroma
// subsampling where possible.
AVPixelFormat planar_equivalent(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  const bool deep = d && d->comp[0].depth > 8;
  if (d && (d->flags & AV_PIX_FMT_FLAG_RGB)) return deep ? AV_PIX_FMT_YUV444P10 : AV_PIX_FMT_YUV444P;
  if (d && d->nb_components == 1) return deep ? AV_PIX_FMT_GRAY10 : AV_PIX_FMT_GRAY8;
  int sx = d ? d->log2_chroma_w : 1, sy = d ? d->log2_chroma_h : 1;
  if (sx == 0 && sy == 0) return deep ? AV_PIX_FMT_YUV444P10 : AV_PIX_FMT_YUV444P;
  if (sx == 1 && sy == 0) return deep ? AV_PIX_FMT_YUV422P10 : AV_PIX_FMT_YUV422P;
  return deep ? AV_PIX_FMT_YUV420P10 : AV_PIX_FMT_YUV420P;
}

// Frame buffers for a CPU decoder, as libavcodec's default get_buffer2 lays them out but not
// zeroed. The default zeroes every new buffer (so a damaged stream shows grey, not old memory);
// unmark refuses damaged frames anyway, and while a profile is measured the first 450 frames are
// held, each a new buffer: zeroing them was a quarter of a 1080p run's CPU (memset and the page
// faults it takes). Thread-safe: frame threads ask at once.
class DecoderBufferPool {
 public:
  ~DecoderBufferPool() { reset(); }

  static int get_buffer(AVCodecContext* ctx, AVFrame* frame, int flags) {
    auto* self = static_cast<DecoderBufferPool*>(ctx->opaque);
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(frame->format));
    if (!self || !(ctx->codec->capabilities & AV_CODEC_CAP_DR1) || !d ||
        (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM)))
      return avcodec_default_get_buffer2(ctx, frame, flags);
    return self->get(ctx, frame);
  }

 private:
  int get(AVCodecContext* ctx, AVFrame* frame) {
    {
      std::lock_guard lock(mutex_);
      if (!pools_[0] || format_ != frame->format || width_ != frame->width || height_ != frame->height) {
        reset();
        if (int err = layout(ctx, frame); err < 0) return err;
      }
    }
    for (int i = 0; i < 4 && pools_[i]; ++i) {
      frame->buf[i] = av_buffer_pool_get(pools_[i]);
      if (!frame->buf[i]) {
        av_frame_unref(frame);
        return AVERROR(ENOMEM);
      }
      frame->data[i] = frame->buf[i]->data;
      frame->linesize[i] = linesize_[i];
    }
    frame->extended_data = frame->data;
    return 0;
  }

  // libavcodec's own sizes: dimensions aligned for the codec, every linesize a multiple of what
  // the codec's SIMD wants (widening until all are).
  int layout(AVCodecContext* ctx, const AVFrame* frame) {
    int w = frame->width, h = frame->height;
    int align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(ctx, &w, &h, align);
    int linesize[4];
    for (bool unaligned = true; unaligned;) {
      if (int err = av_image_fill_linesizes(linesize, AVPixelFormat(frame->format), w); err < 0) return err;
      w += w & ~(w - 1);
      unaligned = false;
      for (int i = 0; i < 4; ++i) unaligned |= linesize[i] % align[i] != 0;
    }
    ptrdiff_t linesizes[4];
    for (int i = 0; i < 4; ++i) linesizes[i] = linesize[i];
    size_t sizes[4];
    if (int err = av_image_fill_plane_sizes(sizes, AVPixelFormat(frame->format), h, linesizes); err < 0) return err;
    for (int i = 0; i < 4 && sizes[i]; ++i) {
      // As libavcodec pads: 16 bytes past the end for SIMD reads, and room to align the start.
      pools_[i] = av_buffer_pool_init(sizes[i] + 16 + 64 - 1, av_buffer_alloc);
      if (!pools_[i]) return AVERROR(ENOMEM);
      linesize_[i] = linesize[i];
    }
    format_ = frame->format;
    width_ = frame->width;
    height_ = frame->height;
    return 0;
  }

  void reset() {
    for (AVBufferPool*& p : pools_) av_buffer_pool_uninit(&p);  // buffers out keep theirs alive
  }

  std::mutex mutex_;
  AVBufferPool* pools_[4] = {};
  int linesize_[4] = {};
  int format_ = -1, width_ = 0, height_ = 0;
};

// libavcodec's decoder, on the CPU or (nvdec) with a CUDA device: the same timing, checks and
// conversion either way, so the two differ only in where the pixels are decoded.
class LavcVideoDecoder final : public VideoDecoder {
 public:
  LavcVideoDecoder(const AVStream* stream, int64_t start_pts, int threads, bool nvdec)
      : time_base_(stream->time_base), start_pts_(start_pts) {
    const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec)
      throw Error("decode", ErrorKind::unsupported,
                  std::string("no decoder for codec ") + avcodec_get_name(stream->codecpar->codec_id));
    ctx_.reset(avcodec_alloc_context3(codec));
    if (!ctx_) throw std::bad_alloc();
    check(avcodec_parameters_to_context(ctx_.get(), stream->codecpar), "decode", ErrorKind::input,
          "bad codec parameters");
    ctx_->pkt_timebase = stream->time_base;
    if (nvdec) {
      attach_cuda(codec);
      threads = 1;  // the GPU decodes; frame threads would only add latency and copies
    }
    // Half the cores (at least 2) by default: the encoder runs at the same time and is the stage a
    // user cannot avoid; a decoder with a thread per core on top of it oversubscribes the machine
    // (measured on 2 cores: ~10% more CPU for the same output).
    if (threads <= 0) threads = std::max(2, int(std::thread::hardware_concurrency()) / 2);
    ctx_->thread_count = threads;
    ctx_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (!nvdec) {
      ctx_->opaque = &buffers_;
      ctx_->get_buffer2 = &DecoderBufferPool::get_buffer;
    }
    check(avcodec_open2(ctx_.get(), codec, nullptr), "decode", ErrorKind::input,
          std::string("cannot open the ") + codec->name + " decoder");
    AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
    if (rate.num > 0) default_duration_ = av_rescale_q(1, av_inv_q(rate), time_base_);
    log_for("decode")->info("decoder: {} ({} threads)", codec->name, ctx_->thread_count);
  }

  std::string description() const override {
    if (ctx_->hw_device_ctx) return std::string(ctx_->codec->name) + " (nvdec)";
    return std::string(ctx_->codec->name) + " (cpu, " + std::to_string(ctx_->thread_count) +
           " threads)";
  }

  int64_t frames_out() const override { return frames_out_; }

  void decode(const AVPacket* packet, const FrameSink& sink) override {
    int err = avcodec_send_packet(ctx_.get(), packet);
    if (err < 0 && err != AVERROR_EOF) corrupt(err);
    for (;;) {
      AVFramePtr frame = make_av_frame();
      err = avcodec_receive_frame(ctx_.get(), frame.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) corrupt(err);
      if ((frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags) {
        throw Error("decode", ErrorKind::input,
                    "corrupt video data at frame " + std::to_string(frames_out_) +
                        " (the stream is damaged)");
      }
      emit(std::move(frame), sink);
    }
  }

 private:
  [[noreturn]] void corrupt(int err) {
    throw Error("decode", ErrorKind::input,
                "damaged or truncated video data after frame " + std::to_string(frames_out_) + ": " +
                    av_error_text(err));
  }

  // NVDEC through libavcodec's cuda hwaccel: a CUDA device, and CUDA frames asked for.
  void attach_cuda(const AVCodec* codec) {
    if (fault_injected("nvdec")) throw Error("decode", ErrorKind::unsupported, "NVDEC failed (injected by UNMARK_FAULT=nvdec)");
    bool supported = false;
    for (int i = 0;; ++i) {
      const AVCodecHWConfig* config = avcodec_get_hw_config(codec, i);
      if (!config) break;
      supported |= (config->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && config->device_type == AV_HWDEVICE_TYPE_CUDA;
    }
    if (!supported)
      throw Error("decode", ErrorKind::unsupported, std::string(codec->name) + " has no NVDEC path in this FFmpeg");
    AVBufferRef* device = nullptr;
    if (int err = av_hwdevice_ctx_create(&device, AV_HWDEVICE_TYPE_CUDA, nullptr, nullptr, 0); err < 0)
      throw Error("decode", ErrorKind::unsupported, "no CUDA device for NVDEC (" + av_error_text(err) + ")");
    ctx_->hw_device_ctx = device;  // the context owns the reference now
    ctx_->get_format = [](AVCodecContext*, const AVPixelFormat* formats) {
      for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f)
        if (*f == AV_PIX_FMT_CUDA) return *f;
      return AV_PIX_FMT_NONE;  // this stream's profile or size is beyond NVDEC: opening fails
    };
  }

  void emit(AVFramePtr av, const FrameSink& sink) {
    if (av->format == AV_PIX_FMT_CUDA) av = download(std::move(av));
    int64_t pts = av->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = last_pts_ == AV_NOPTS_VALUE ? 0 : last_pts_ + last_duration_;
    if (last_pts_ != AV_NOPTS_VALUE && pts <= last_pts_) pts = last_pts_ + 1;  // keep strictly increasing
    av->pts = pts;
    int64_t duration = av->pkt_duration > 0 ? av->pkt_duration : default_duration_;
    last_pts_ = pts;
    last_duration_ = duration > 0 ? duration : 1;

    if (!is_supported_planar_format(av->format)) av = to_planar(std::move(av));

    Frame f;
    f.index = frames_out_++;
    f.time = double(pts - start_pts_) * av_q2d(time_base_);
    f.duration = duration;
    f.av = std::move(av);
    sink(std::move(f));
  }

  // An NVDEC frame down to the CPU once: planar with the chroma split on the GPU
  // (gpu/cuda_frames.h), or, one level down, as NV12/P010 through libavcodec, split by to_planar.
  AVFramePtr download(AVFramePtr gpu_frame) {
    auto log = log_for("decode");
    if (!gpu_download_tried_) {
      gpu_download_tried_ = true;
      std::string why;
      gpu_download_ = gpu::CudaFrameDownload::create(gpu_frame.get(), &why);
      if (gpu_download_) log->info("NVDEC frames come down planar: chroma split on the GPU");
      else log->info("chroma split on the CPU: {}", why);
    }
    AVFramePtr host;
    if (gpu_download_) {
      try {
        host = gpu_download_->download(gpu_frame.get());
      } catch (const Error& e) {
        log->warn("{}: using libavcodec's download and the CPU split from here on", e.what());
        gpu_download_.reset();
      }
    }
    if (!host) {
      host = make_av_frame();
      check(av_hwframe_transfer_data(host.get(), gpu_frame.get(), 0), "decode", ErrorKind::processing, "copy from NVDEC");
    }
    check(av_frame_copy_props(host.get(), gpu_frame.get()), "decode", ErrorKind::processing, "frame props");
    return host;
  }

  // Whole-frame conversion, only for codecs whose native output the CPU stages cannot read.
  AVFramePtr to_planar(AVFramePtr src) {
    AVPixelFormat want = planar_equivalent(AVPixelFormat(src->format));
    if (!sws_ || sws_src_fmt_ != src->format) {
      log_for("decode")->info("decoder outputs {}, converting to {}",
                              av_get_pix_fmt_name(AVPixelFormat(src->format)),
                              av_get_pix_fmt_name(want));
      sws_.reset(sws_getContext(src->width, src->height, AVPixelFormat(src->format), src->width,
                                src->height, want, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr,
                                nullptr));
      if (!sws_)
        throw Error("decode", ErrorKind::unsupported,
                    std::string("cannot convert pixel format ") +
                        av_get_pix_fmt_name(AVPixelFormat(src->format)));
      sws_src_fmt_ = src->format;
    }
    AVFramePtr dst = make_av_frame();
    dst->format = want;
    dst->width = src->width;
    dst->height = src->height;
    check(av_frame_get_buffer(dst.get(), 0), "decode", ErrorKind::processing, "frame allocation");
    check(av_frame_copy_props(dst.get(), src.get()), "decode", ErrorKind::processing, "frame props");
    sws_scale(sws_.get(), src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
    if (AVPixelFormat(src->format) == AV_PIX_FMT_RGB24 || (av_pix_fmt_desc_get(AVPixelFormat(src->format))->flags & AV_PIX_FMT_FLAG_RGB)) {
      dst->colorspace = AVCOL_SPC_BT709;
      dst->color_range = AVCOL_RANGE_MPEG;
    }
    return dst;
  }

  DecoderBufferPool buffers_;  // before ctx_: the codec hands buffers back to it as it closes
  AVCodecContextPtr ctx_;
  AVRational time_base_;
  int64_t start_pts_ = 0;
  int64_t default_duration_ = 0;
  int64_t frames_out_ = 0;
  int64_t last_pts_ = AV_NOPTS_VALUE;
  int64_t last_duration_ = 1;
  SwsContextPtr sws_;
  int sws_src_fmt_ = -1;
  std::unique_ptr<gpu::CudaFrameDownload> gpu_download_;
  bool gpu_download_tried_ = false;
};

}  // namespace

std::unique_ptr<VideoDecoder> open_cpu_video_decoder(const AVStream* stream, int64_t start_pts,
                                                     int threads) {
  return std::make_unique<LavcVideoDecoder>(stream, start_pts, threads, false);
}

std::unique_ptr<VideoDecoder> open_nvdec_video_decoder(const AVStream* stream, int64_t start_pts) {
  return std::make_unique<LavcVideoDecoder>(stream, start_pts, 1, true);
}

std::unique_ptr<VideoDecoder> open_video_decoder(const std::string& choice, const AVStream* stream,
                                                 int64_t start_pts, int threads, std::string* fallback) {
  if (choice == "cpu") return open_cpu_video_decoder(stream, start_pts, threads);
  if (choice != "auto" && choice != "nvdec")
    throw Error("cli", ErrorKind::usage, "--decoder '" + choice + "' is not known (choose auto, nvdec or cpu)");
  try {
    return open_nvdec_video_decoder(stream, start_pts);
  } catch (const Error& e) {
    if (choice == "nvdec" || e.kind() != ErrorKind::unsupported) throw;
    // One level down, said once: NVDEC -> CPU decode.
    log_for("decode")->info("nvdec not used ({}), using CPU decode", e.what());
    if (fallback) *fallback = std::string("nvdec not used: ") + e.what();
    return open_cpu_video_decoder(stream, start_pts, threads);
  }
}

}  // namespace unmark

#include "io/audio_transcoder.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

#include "core/error.h"
#include "core/log.h"

namespace unmark {
namespace {

class AacTranscoder final : public AudioTranscoder {
 public:
  AacTranscoder(const AVStream* in, bool global_header) : in_tb_(in->time_base) {
    const AVCodec* dec = avcodec_find_decoder(in->codecpar->codec_id);
    if (!dec)
      throw Error("mux", ErrorKind::unsupported,
                  std::string("no decoder for audio codec ") + avcodec_get_name(in->codecpar->codec_id));
    dec_.reset(avcodec_alloc_context3(dec));
    check(avcodec_parameters_to_context(dec_.get(), in->codecpar), "mux", ErrorKind::input, "audio parameters");
    dec_->pkt_timebase = in->time_base;
    check(avcodec_open2(dec_.get(), dec, nullptr), "mux", ErrorKind::unsupported, "cannot open the audio decoder");

    const AVCodec* enc = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!enc) throw Error("mux", ErrorKind::unsupported, "no AAC encoder in this FFmpeg build");
    enc_.reset(avcodec_alloc_context3(enc));
    enc_->sample_rate = dec_->sample_rate > 0 ? dec_->sample_rate : 48000;
    if (dec_->ch_layout.nb_channels > 0) av_channel_layout_copy(&enc_->ch_layout, &dec_->ch_layout);
    else av_channel_layout_default(&enc_->ch_layout, 2);
    if (enc_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&enc_->ch_layout, enc_->ch_layout.nb_channels);
    enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc_->bit_rate = 96000LL * std::max(1, enc_->ch_layout.nb_channels);
    enc_->time_base = {1, enc_->sample_rate};
    if (global_header) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(enc_.get(), enc, nullptr), "mux", ErrorKind::unsupported, "cannot open the AAC encoder");
    fifo_.reset(av_audio_fifo_alloc(enc_->sample_fmt, enc_->ch_layout.nb_channels, 4096));
    if (!fifo_) throw std::bad_alloc();
  }

  const AVCodecContext* context() const override { return enc_.get(); }

  void transcode(const AVPacket* packet, const PacketSink& sink) override {
    int err = avcodec_send_packet(dec_.get(), packet);
    if (err < 0 && err != AVERROR_EOF)
      check(err, "mux", ErrorKind::input, "corrupt audio data");
    AVFramePtr frame = make_av_frame();
    for (;;) {
      err = avcodec_receive_frame(dec_.get(), frame.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) break;
      check(err, "mux", ErrorKind::input, "corrupt audio data");
      push_samples(frame.get());
      av_frame_unref(frame.get());
    }
    drain_fifo(packet == nullptr, sink);
    if (!packet) encode(nullptr, sink);
  }

 private:
  void push_samples(const AVFrame* frame) {
    if (next_pts_ == AV_NOPTS_VALUE) {
      int64_t pts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : 0;
      next_pts_ = av_rescale_q(pts, in_tb_, enc_->time_base);
    }
    if (!swr_) {
      SwrContext* raw = nullptr;
      check(swr_alloc_set_opts2(&raw, &enc_->ch_layout, enc_->sample_fmt, enc_->sample_rate,
                                const_cast<AVChannelLayout*>(&frame->ch_layout), AVSampleFormat(frame->format), frame->sample_rate,
                                0, nullptr),
            "mux", ErrorKind::unsupported, "audio resampler");
      swr_.reset(raw);
      check(swr_init(raw), "mux", ErrorKind::unsupported, "audio resampler");
    }
    int out_count = swr_get_out_samples(swr_.get(), frame->nb_samples);
    AVFramePtr tmp = make_av_frame();
    tmp->format = enc_->sample_fmt;
    tmp->nb_samples = out_count;
    av_channel_layout_copy(&tmp->ch_layout, &enc_->ch_layout);
    tmp->sample_rate = enc_->sample_rate;
    check(av_frame_get_buffer(tmp.get(), 0), "mux", ErrorKind::processing, "audio buffer");
    int got = swr_convert(swr_.get(), tmp->data, out_count, (const uint8_t**)frame->extended_data,
                          frame->nb_samples);
    check(got, "mux", ErrorKind::processing, "audio resampling");
    check(av_audio_fifo_write(fifo_.get(), (void**)tmp->data, got), "mux", ErrorKind::processing,
          "audio buffer");
  }

  void drain_fifo(bool final, const PacketSink& sink) {
    const int frame_size = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    while (av_audio_fifo_size(fifo_.get()) >= frame_size ||
           (final && av_audio_fifo_size(fifo_.get()) > 0)) {
      int n = std::min(frame_size, av_audio_fifo_size(fifo_.get()));
      AVFramePtr out = make_av_frame();
      out->format = enc_->sample_fmt;
      out->nb_samples = n;
      out->sample_rate = enc_->sample_rate;
      av_channel_layout_copy(&out->ch_layout, &enc_->ch_layout);
      check(av_frame_get_buffer(out.get(), 0), "mux", ErrorKind::processing, "audio buffer");
      av_audio_fifo_read(fifo_.get(), (void**)out->data, n);
      out->pts = next_pts_;
      next_pts_ += n;
      encode(out.get(), sink);
    }
  }

  void encode(const AVFrame* frame, const PacketSink& sink) {
    int err = avcodec_send_frame(enc_.get(), frame);
    if (err < 0 && err != AVERROR_EOF) check(err, "mux", ErrorKind::processing, "AAC encoder");
    AVPacketPtr pkt = make_av_packet();
    for (;;) {
      err = avcodec_receive_packet(enc_.get(), pkt.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check(err, "mux", ErrorKind::processing, "AAC encoder");
      sink(pkt.get());
      av_packet_unref(pkt.get());
    }
  }

  AVRational in_tb_;
  AVCodecContextPtr dec_, enc_;
  SwrContextPtr swr_;
  AVAudioFifoPtr fifo_;
  int64_t next_pts_ = AV_NOPTS_VALUE;
};

}  // namespace

std::unique_ptr<AudioTranscoder> open_aac_transcoder(const AVStream* input, bool global_header) {
  return std::make_unique<AacTranscoder>(input, global_header);
}

}  // namespace unmark

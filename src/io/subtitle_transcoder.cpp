#include "io/subtitle_transcoder.h"

#include <cstring>
#include <vector>

#include "core/error.h"

namespace unmark {
namespace {

struct AVSubtitleOwner {
  AVSubtitle sub{};
  ~AVSubtitleOwner() { avsubtitle_free(&sub); }
};

class TextSubtitleTranscoder final : public SubtitleTranscoder {
 public:
  TextSubtitleTranscoder(const AVStream* in, AVCodecID target, bool global_header) {
    const AVCodecDescriptor* desc = avcodec_descriptor_get(in->codecpar->codec_id);
    if (!desc || !(desc->props & AV_CODEC_PROP_TEXT_SUB))
      throw Error("mux", ErrorKind::unsupported, "not a text subtitle");
    const AVCodec* dec = avcodec_find_decoder(in->codecpar->codec_id);
    const AVCodec* enc = avcodec_find_encoder(target);
    if (!dec || !enc) throw Error("mux", ErrorKind::unsupported, "no subtitle decoder or encoder");
    dec_.reset(avcodec_alloc_context3(dec));
    check(avcodec_parameters_to_context(dec_.get(), in->codecpar), "mux", ErrorKind::input, "subtitle parameters");
    dec_->pkt_timebase = in->time_base;
    check(avcodec_open2(dec_.get(), dec, nullptr), "mux", ErrorKind::unsupported, "subtitle decoder");
    enc_.reset(avcodec_alloc_context3(enc));
    enc_->time_base = in->time_base;
    // The encoder styles its output from the decoder's ASS header, as ffmpeg does.
    if (dec_->subtitle_header) {
      enc_->subtitle_header = static_cast<uint8_t*>(av_mallocz(dec_->subtitle_header_size + 1));
      if (!enc_->subtitle_header) throw std::bad_alloc();
      std::memcpy(enc_->subtitle_header, dec_->subtitle_header, dec_->subtitle_header_size);
      enc_->subtitle_header_size = dec_->subtitle_header_size;
    }
    if (global_header) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(enc_.get(), enc, nullptr), "mux", ErrorKind::unsupported, "subtitle encoder");
  }

  const AVCodecContext* context() const override { return enc_.get(); }

  void transcode(const AVPacket* packet, const PacketSink& sink) override {
    if (!packet) return;  // text subtitle decoders hold nothing back
    AVSubtitleOwner owner;
    int got = 0;
    int err = avcodec_decode_subtitle2(dec_.get(), &owner.sub, &got, const_cast<AVPacket*>(packet));
    check(err, "mux", ErrorKind::input, "corrupt subtitle data");
    if (!got || owner.sub.num_rects == 0) return;
    std::vector<uint8_t> buf(1 << 16);
    int size = avcodec_encode_subtitle(enc_.get(), buf.data(), int(buf.size()), &owner.sub);
    check(size, "mux", ErrorKind::processing, "subtitle encoder");
    AVPacketPtr out = make_av_packet();
    check(av_new_packet(out.get(), size), "mux", ErrorKind::processing, "subtitle packet");
    std::memcpy(out->data, buf.data(), size_t(size));
    out->pts = packet->pts;
    out->dts = packet->dts;
    out->duration = packet->duration;
    sink(out.get());
  }

 private:
  AVCodecContextPtr dec_, enc_;
};

}  // namespace

AVCodecID text_subtitle_codec_for(const AVOutputFormat* container) {
  for (AVCodecID id : {AV_CODEC_ID_MOV_TEXT, AV_CODEC_ID_SUBRIP, AV_CODEC_ID_ASS, AV_CODEC_ID_WEBVTT})
    if (avformat_query_codec(container, id, FF_COMPLIANCE_NORMAL) == 1 && avcodec_find_encoder(id))
      return id;
  return AV_CODEC_ID_NONE;
}

std::unique_ptr<SubtitleTranscoder> open_subtitle_transcoder(const AVStream* input, AVCodecID target,
                                                             bool global_header) {
  return std::make_unique<TextSubtitleTranscoder>(input, target, global_header);
}

}  // namespace unmark

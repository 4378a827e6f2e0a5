#include "support/media.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace unmark::test {
namespace {

void ok(int err, const char* what) {
  if (err < 0) {
    char buf[128];
    av_strerror(err, buf, sizeof buf);
    throw std::runtime_error(std::string(what) + ": " + buf);
  }
}

// Moving content like a natural video's: smooth shading with some detail, which a quality encode
// keeps at well over 45 dB (a hard synthetic texture would measure the encoder, not unmark).
int texture(int x, int y, int t, int plane) {
  double v = 110 + 40 * std::sin((x + 2 * t) / 23.0) * std::cos((y - t) / 31.0) +
             12 * std::sin((x - y + 3 * t) / 9.0) + 0.15 * (x - y);
  if (plane == 1) v = 128 + 30 * std::sin((x + y + t) / 41.0);
  if (plane == 2) v = 128 + 30 * std::cos((x - y - 2 * t) / 53.0);
  return std::clamp(int(v), 16, 235);
}

// libav's encoders (x264) print their settings at info level; tests want errors only.
const bool quiet_libav = [] {
  av_log_set_level(AV_LOG_ERROR);
  return true;
}();

}  // namespace

std::vector<float> synthetic_mark_alpha(int w, int h) {
  std::vector<float> a(size_t(w) * h, 0.f);
  const float r = h * 0.45f, cx = h * 0.5f, cy = h * 0.5f;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float d = std::hypot(x - cx, y - cy);
      float v = 0;
      if (d < r) v = 0.95f;
      else if (d < r + 1) v = 0.95f * (r + 1 - d);  // anti-aliased edge
      for (float ex : {cx - r * 0.35f, cx + r * 0.35f})
        if (std::hypot(x - ex, y - cy) < r * 0.18f) v = 0.3f;  // eyes
      // The word: four translucent bars right of the disc.
      int wx = x - int(h * 1.15f);
      if (wx >= 0 && y > h / 5 && y < h - h / 5 && (wx % 9) < 6 && wx < 4 * 9) v = 0.55f;
      a[size_t(y) * w + x] = v;
    }
  return a;
}

std::pair<int, int> overlay_place_at(const MediaSpec& spec, int frame) {
  if (spec.overlay_alpha.empty() || spec.overlay_places.empty()) return {-1, -1};
  int k = frame / spec.overlay_period, in = frame % spec.overlay_period;
  if (k > 0 && in < spec.overlay_gap) return {-1, -1};
  return spec.overlay_places[size_t(k) % spec.overlay_places.size()];
}

void write_media(const std::string& path, const MediaSpec& spec) {
  AVFormatContext* raw = nullptr;
  ok(avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str()), "output");
  AVOutputFormatContextPtr oc(raw);
  for (auto& [k, v] : spec.tags) av_dict_set(&oc->metadata, k.c_str(), v.c_str(), 0);

  AVCodecContextPtr venc, aenc;
  AVStream *vst = nullptr, *ast = nullptr;
  if (spec.video) {
    const AVCodec* codec = avcodec_find_encoder_by_name(spec.video_codec.c_str());
    if (!codec) throw std::runtime_error("no encoder " + spec.video_codec);
    venc.reset(avcodec_alloc_context3(codec));
    venc->width = spec.width;
    venc->height = spec.height;
    venc->pix_fmt = spec.pix_fmt;
    venc->time_base = spec.time_base;
    venc->framerate = spec.pts.empty() ? av_inv_q(spec.time_base) : AVRational{0, 1};
    venc->gop_size = 24;
    if (spec.bt709) {
      venc->color_primaries = AVCOL_PRI_BT709;
      venc->color_trc = AVCOL_TRC_BT709;
      venc->colorspace = AVCOL_SPC_BT709;
      venc->color_range = AVCOL_RANGE_MPEG;
    }
    if (spec.video_codec == "libx264") {
      av_opt_set(venc->priv_data, "preset", "ultrafast", 0);
      av_opt_set_double(venc->priv_data, "crf", spec.crf, 0);
    }
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ok(avcodec_open2(venc.get(), codec, nullptr), "open video encoder");
    vst = avformat_new_stream(oc.get(), nullptr);
    ok(avcodec_parameters_from_context(vst->codecpar, venc.get()), "video params");
    vst->time_base = spec.time_base;
    if (spec.rotation != 0) {
      auto* m = reinterpret_cast<int32_t*>(
          av_stream_new_side_data(vst, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t)));
      av_display_rotation_set(m, spec.rotation);
    }
  }
  if (spec.audio) {
    const AVCodec* codec = avcodec_find_encoder(spec.audio_codec);
    aenc.reset(avcodec_alloc_context3(codec));
    aenc->sample_rate = 48000;
    av_channel_layout_default(&aenc->ch_layout, 2);
    aenc->sample_fmt = codec->sample_fmts[0];
    aenc->bit_rate = 128000;
    aenc->time_base = {1, 48000};
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ok(avcodec_open2(aenc.get(), codec, nullptr), "open audio encoder");
    ast = avformat_new_stream(oc.get(), nullptr);
    ok(avcodec_parameters_from_context(ast->codecpar, aenc.get()), "audio params");
    ast->time_base = {1, 48000};
  }
  AVStream* sst = nullptr;
  if (!spec.subtitles.empty()) {
    sst = avformat_new_stream(oc.get(), nullptr);
    sst->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    sst->codecpar->codec_id = AV_CODEC_ID_SUBRIP;
    sst->time_base = {1, 1000};
    av_dict_set(&sst->metadata, "language", "eng", 0);
  }
  ok(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), "avio_open");
  if (!spec.chapters.empty()) {
    oc->chapters = static_cast<AVChapter**>(av_calloc(spec.chapters.size(), sizeof(AVChapter*)));
    for (const MediaSpec::Cue& c : spec.chapters) {
      auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
      ch->id = int64_t(oc->nb_chapters) + 1;
      ch->time_base = {1, 1000};
      ch->start = c.start_ms;
      ch->end = c.start_ms + c.duration_ms;
      av_dict_set(&ch->metadata, "title", c.text.c_str(), 0);
      oc->chapters[oc->nb_chapters++] = ch;
    }
  }
  AVDictionary* mux_opts = nullptr;
  if (spec.faststart) av_dict_set(&mux_opts, "movflags", "+faststart", 0);
  int header = avformat_write_header(oc.get(), &mux_opts);
  av_dict_free(&mux_opts);
  ok(header, "header");

  AVPacketPtr pkt = make_av_packet();
  auto drain = [&](AVCodecContext* enc, AVStream* st) {
    for (;;) {
      int err = avcodec_receive_packet(enc, pkt.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      ok(err, "encode");
      if (pkt->duration == 0 && enc->codec_type == AVMEDIA_TYPE_VIDEO) pkt->duration = 1;
      av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
      pkt->stream_index = st->index;
      ok(av_interleaved_write_frame(oc.get(), pkt.get()), "write");
    }
  };

  double video_seconds = 0;
  if (spec.video) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(spec.pix_fmt);
    const int shift_bits = d->comp[0].depth - 8;
    for (int i = 0; i < spec.frames; ++i) {
      AVFramePtr f = make_av_frame();
      f->format = spec.pix_fmt;
      f->width = spec.width;
      f->height = spec.height;
      ok(av_frame_get_buffer(f.get(), 0), "frame");
      for (int p = 0; p < (d->nb_components >= 3 ? 3 : 1); ++p) {
        int sx = p ? d->log2_chroma_w : 0, sy = p ? d->log2_chroma_h : 0;
        int pw = AV_CEIL_RSHIFT(spec.width, sx), ph = AV_CEIL_RSHIFT(spec.height, sy);
        for (int y = 0; y < ph; ++y) {
          for (int x = 0; x < pw; ++x) {
            int v = texture(x << sx, y << sy, i * spec.background_speed, p);
            if (auto [ox, oy] = overlay_place_at(spec, i); ox >= 0) {
              const size_t place = size_t(i / spec.overlay_period) % spec.overlay_places.size();
              const std::vector<float>& alpha =
                  spec.overlay_alpha_per_place.empty() ? spec.overlay_alpha : spec.overlay_alpha_per_place[place];
              // Alpha averaged over the luma samples this sample covers (chroma subsampling).
              float a = 0;
              int n = 0;
              for (int dy = 0; dy < (1 << sy); ++dy)
                for (int dx = 0; dx < (1 << sx); ++dx) {
                  int lx = (x << sx) + dx - ox, ly = (y << sy) + dy - oy;
                  if (lx >= 0 && ly >= 0 && lx < spec.overlay_w && ly < spec.overlay_h)
                    a += alpha[size_t(ly) * spec.overlay_w + lx];
                  ++n;
                }
              a /= float(n);
              float mark_value = p ? 128.f : 235.f;
              v = int(std::lround(a * mark_value + (1 - a) * float(v)));
            }
            if (spec.mark.contains(x << sx, y << sy)) {
              // White with dark bars, neutral chroma: a mark the eye (and the tests) can't miss.
              int lx = (x << sx) - spec.mark.x;
              v = p ? 128 : ((lx / 4) % 3 == 0 ? 40 : 235);
            }
            if (shift_bits > 0)
              reinterpret_cast<uint16_t*>(f->data[p] + y * f->linesize[p])[x] = uint16_t(v << shift_bits);
            else
              f->data[p][y * f->linesize[p] + x] = uint8_t(v);
          }
        }
      }
      f->pts = spec.pts.empty() ? i : spec.pts[size_t(i)];
      ok(avcodec_send_frame(venc.get(), f.get()), "send frame");
      drain(venc.get(), vst);
    }
    ok(avcodec_send_frame(venc.get(), nullptr), "flush");
    drain(venc.get(), vst);
    int64_t last = spec.pts.empty() ? spec.frames : spec.pts.back() + 1;
    video_seconds = last * av_q2d(spec.time_base);
  } else {
    video_seconds = spec.frames * av_q2d(spec.time_base);
  }
  if (spec.audio) {
    const int n = aenc->frame_size > 0 ? aenc->frame_size : 1024;
    int64_t total = int64_t(video_seconds * 48000), done = 0;
    while (done < total) {
      AVFramePtr f = make_av_frame();
      f->format = aenc->sample_fmt;
      f->nb_samples = n;
      f->sample_rate = 48000;
      av_channel_layout_copy(&f->ch_layout, &aenc->ch_layout);
      ok(av_frame_get_buffer(f.get(), 0), "audio frame");
      for (int s = 0; s < n; ++s) {
        double v = 0.3 * std::sin(2 * M_PI * 440.0 * double(done + s) / 48000.0);
        if (aenc->sample_fmt == AV_SAMPLE_FMT_FLTP) {
          reinterpret_cast<float*>(f->data[0])[s] = float(v);
          reinterpret_cast<float*>(f->data[1])[s] = float(v);
        } else {  // s16 interleaved
          reinterpret_cast<int16_t*>(f->data[0])[2 * s] = int16_t(v * 32767);
          reinterpret_cast<int16_t*>(f->data[0])[2 * s + 1] = int16_t(v * 32767);
        }
      }
      f->pts = done;
      done += n;
      ok(avcodec_send_frame(aenc.get(), f.get()), "send audio");
      drain(aenc.get(), ast);
    }
    ok(avcodec_send_frame(aenc.get(), nullptr), "flush audio");
    drain(aenc.get(), ast);
  }
  for (const MediaSpec::Cue& cue : spec.subtitles) {
    AVPacketPtr sp = make_av_packet();
    ok(av_new_packet(sp.get(), int(cue.text.size())), "subtitle packet");
    std::memcpy(sp->data, cue.text.data(), cue.text.size());
    sp->pts = sp->dts = av_rescale_q(cue.start_ms, {1, 1000}, sst->time_base);
    sp->duration = av_rescale_q(cue.duration_ms, {1, 1000}, sst->time_base);
    sp->stream_index = sst->index;
    ok(av_interleaved_write_frame(oc.get(), sp.get()), "write subtitle");
  }
  ok(av_write_trailer(oc.get()), "trailer");
  avio_closep(&oc->pb);
}

std::vector<DecodedFrame> decode_video(const std::string& path) {
  AVFormatContext* raw = nullptr;
  ok(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), "open");
  AVInputFormatContextPtr ic(raw);
  ok(avformat_find_stream_info(raw, nullptr), "stream info");
  int vi = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  ok(vi, "video stream");
  AVStream* st = raw->streams[vi];
  AVCodecContextPtr dec(avcodec_alloc_context3(avcodec_find_decoder(st->codecpar->codec_id)));
  avcodec_parameters_to_context(dec.get(), st->codecpar);
  dec->pkt_timebase = st->time_base;
  ok(avcodec_open2(dec.get(), dec->codec, nullptr), "open decoder");
  std::vector<DecodedFrame> out;
  AVPacketPtr pkt = make_av_packet();
  AVFramePtr f = make_av_frame();
  auto receive = [&] {
    while (avcodec_receive_frame(dec.get(), f.get()) >= 0) {
      DecodedFrame df;
      df.pts = f->best_effort_timestamp;
      df.width = f->width;
      df.height = f->height;
      df.format = f->format;
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
      for (int p = 0; p < (d->nb_components >= 3 ? 3 : 1); ++p) {
        int sx = p ? d->log2_chroma_w : 0, sy = p ? d->log2_chroma_h : 0;
        int pw = AV_CEIL_RSHIFT(f->width, sx), ph = AV_CEIL_RSHIFT(f->height, sy);
        std::vector<uint16_t> plane(size_t(pw) * ph);
        for (int y = 0; y < ph; ++y)
          for (int x = 0; x < pw; ++x)
            plane[size_t(y) * pw + x] =
                d->comp[p].depth > 8
                    ? reinterpret_cast<const uint16_t*>(f->data[p] + y * f->linesize[p])[x]
                    : f->data[p][y * f->linesize[p] + x];
        df.planes.push_back(std::move(plane));
        df.plane_w.push_back(pw);
        df.plane_h.push_back(ph);
      }
      out.push_back(std::move(df));
      av_frame_unref(f.get());
    }
  };
  while (av_read_frame(raw, pkt.get()) >= 0) {
    if (pkt->stream_index == vi) {
      avcodec_send_packet(dec.get(), pkt.get());
      receive();
    }
    av_packet_unref(pkt.get());
  }
  avcodec_send_packet(dec.get(), nullptr);
  receive();
  return out;
}

std::vector<PacketRecord> read_packets(const std::string& path, AVMediaType type, AVRational* tb) {
  AVFormatContext* raw = nullptr;
  ok(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), "open");
  AVInputFormatContextPtr ic(raw);
  ok(avformat_find_stream_info(raw, nullptr), "stream info");
  int index = av_find_best_stream(raw, type, -1, -1, nullptr, 0);
  std::vector<PacketRecord> out;
  if (index < 0) return out;
  if (tb) *tb = raw->streams[index]->time_base;
  AVPacketPtr pkt = make_av_packet();
  while (av_read_frame(raw, pkt.get()) >= 0) {
    if (pkt->stream_index == index)
      out.push_back({pkt->pts, pkt->dts, pkt->duration,
                     std::vector<uint8_t>(pkt->data, pkt->data + pkt->size)});
    av_packet_unref(pkt.get());
  }
  return out;
}

double psnr(const DecodedFrame& a, const DecodedFrame& b, bool (*keep)(int, int, const void*),
            const void* ctx, int max_value) {
  double se = 0;
  long n = 0;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(a.format));
  for (size_t p = 0; p < a.planes.size(); ++p) {
    int sx = p ? d->log2_chroma_w : 0, sy = p ? d->log2_chroma_h : 0;
    for (int y = 0; y < a.plane_h[p]; ++y) {
      for (int x = 0; x < a.plane_w[p]; ++x) {
        if (keep && !keep(x << sx, y << sy, ctx)) continue;
        double diff = double(a.planes[p][size_t(y) * a.plane_w[p] + x]) -
                      double(b.planes[p][size_t(y) * b.plane_w[p] + x]);
        se += diff * diff;
        ++n;
      }
    }
  }
  if (n == 0 || se == 0) return 99.0;
  return 10.0 * std::log10(double(max_value) * max_value / (se / double(n)));
}

double mean_abs_diff_in(const DecodedFrame& a, const DecodedFrame& b, Box box) {
  double sum = 0;
  long n = 0;
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x) {
      sum += std::abs(double(a.planes[0][size_t(y) * a.plane_w[0] + x]) -
                      double(b.planes[0][size_t(y) * b.plane_w[0] + x]));
      ++n;
    }
  return n ? sum / double(n) : 0;
}

MediaSpec marked_clip(int frames) {
  MediaSpec spec;
  spec.frames = frames;
  spec.mark = {20, 20, 60, 24};
  return spec;
}

std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(UNMARK_TEST_TMP) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string shared_media_dir() {
  std::filesystem::path p = std::filesystem::path(UNMARK_SHARED_DIR) / "media";
  return std::filesystem::is_directory(p) ? p.string() : std::string();
}

}  // namespace unmark::test

// Test media made with libav, so tests run anywhere, and readers to compare what unmark wrote
// with what it read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/av_ptr.h"
#include "core/box.h"

namespace unmark::test {

struct MediaSpec {
  int width = 320, height = 240;
  AVPixelFormat pix_fmt = AV_PIX_FMT_YUV420P;
  std::string video_codec = "libx264";  // or "ffv1" (odd sizes), "mpeg4"
  int frames = 48;
  AVRational time_base{1, 30};
  std::vector<int64_t> pts;             // explicit per-frame pts (VFR); empty: 0, 1, 2, ...
  int crf = 10;
  bool audio = true;
  AVCodecID audio_codec = AV_CODEC_ID_AAC;  // or AV_CODEC_ID_PCM_S16LE
  bool video = true;
  double rotation = 0;                  // display matrix, degrees
  bool bt709 = false;                   // tag primaries/transfer/matrix as BT.709, limited range
  std::map<std::string, std::string> tags;  // container metadata
  bool faststart = false;               // mp4: index before the data, as streamed files are
  Box mark;                             // a white logo-like block burnt into every frame (empty: none)
  int background_speed = 1;             // how fast the texture moves (0: a still picture)
  // A translucent overlay of known alpha (white), composited like a real watermark and moved
  // between `overlay_places` (top-left corners) every `overlay_period` frames, absent for
  // `overlay_gap` frames at each jump.
  std::vector<float> overlay_alpha;     // overlay_w x overlay_h, row major, 0..1 (empty: none)
  int overlay_w = 0, overlay_h = 0;
  std::vector<std::pair<int, int>> overlay_places;
  int overlay_period = 30, overlay_gap = 1;
  // When set, the alpha shown at place k instead (each overlay_w x overlay_h): a mark whose layout
  // changes with its place.
  std::vector<std::vector<float>> overlay_alpha_per_place;
  struct Cue { int64_t start_ms, duration_ms; std::string text; };
  std::vector<Cue> chapters;            // container chapters (start, length, title)
  std::vector<Cue> subtitles;           // a SubRip stream (mkv) when not empty
};

// A logo-like alpha matte: an opaque disc with two see-through eyes beside translucent bars (a
// word), w x h. What the synthetic learning and detection tests use as ground truth.
std::vector<float> synthetic_mark_alpha(int w, int h);

// Where the overlay is in `frame` (top-left corner), or {-1, -1} when absent.
std::pair<int, int> overlay_place_at(const MediaSpec& spec, int frame);

// The end-to-end tests' clip: `frames` frames of the default 320x240 texture with a white block
// mark at (20, 20, 60, 24), the box the tests' --region 18,18,64,28 covers.
MediaSpec marked_clip(int frames);

// Writes a clip of moving texture (plus a sine tone) as `path` (container from the extension).
void write_media(const std::string& path, const MediaSpec& spec);

// A decoded frame, planes copied out tightly.
struct DecodedFrame {
  int64_t pts = 0;
  int width = 0, height = 0, format = -1;
  std::vector<std::vector<uint16_t>> planes;  // samples widened to 16 bits
  std::vector<int> plane_w, plane_h;
};

// Every frame of the main video stream, in display order.
std::vector<DecodedFrame> decode_video(const std::string& path);

// Timestamps (stream time base) and payloads of one stream's packets, in file order.
struct PacketRecord {
  int64_t pts = 0, dts = 0, duration = 0;
  std::vector<uint8_t> data;
};
std::vector<PacketRecord> read_packets(const std::string& path, AVMediaType type,
                                       AVRational* time_base = nullptr);

// PSNR over the luma and chroma planes, counting only samples (in luma coordinates) for which
// `keep(x, y)` is true. Identical samples give 99.
double psnr(const DecodedFrame& a, const DecodedFrame& b, bool (*keep)(int, int, const void*),
            const void* ctx, int max_value = 255);

// Mean absolute luma difference inside a box.
double mean_abs_diff_in(const DecodedFrame& a, const DecodedFrame& b, Box box);

// A fresh empty directory under the build's temp folder, removed by the caller if wanted.
std::string temp_dir(const std::string& name);

// Where ../shared/media is, or "" when absent.
std::string shared_media_dir();

}  // namespace unmark::test

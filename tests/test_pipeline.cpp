// End to end through run_remove on media the tests make: what a user checks after a run.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "io/probe.h"
#include "pipeline/pipeline.h"
#include "support/media.h"

using namespace unmark;
using namespace unmark::test;
namespace fs = std::filesystem;

namespace {

bool outside_box(int x, int y, const void* ctx) {
  // Chroma samples straddle the box edge; keep a 2-pixel margin so they count as inside.
  return !static_cast<const Box*>(ctx)->grown(2).contains(x, y);
}

RemoveJob job_for(const std::string& in, const std::string& out, std::vector<std::string> regions) {
  RemoveJob job;
  job.input = in;
  job.output = out;
  for (auto& r : regions) job.detection.regions.push_back(parse_region(r));
  job.segment_frames = 16;
  return job;
}

double seconds(int64_t ts, AVRational tb) { return double(ts) * av_q2d(tb); }

bool no_temp_files(const std::string& dir) {
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".unmark-") != std::string::npos) return false;
  return true;
}

}  // namespace

TEST(Pipeline, KeepsFramesTimestampsAudioAndPixelsOutsideTheRegion) {
  std::string dir = temp_dir("pipeline_basic");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.frames = 60;
  spec.mark = {104, 84, 52, 32};
  write_media(in, spec);
  Box box{100, 80, 60, 40};
  RunReport report = run_remove(job_for(in, out, {"100,80,60,40"}));
  EXPECT_EQ(report.frames, 60);
  EXPECT_EQ(report.frames_with_marks, 60);
  EXPECT_EQ(report.encoder, "x264");
  ASSERT_TRUE(fs::exists(out));
  EXPECT_TRUE(no_temp_files(dir));

  auto a = decode_video(in), b = decode_video(out);
  ASSERT_EQ(a.size(), b.size());
  AVRational tin, tout;
  read_packets(in, AVMEDIA_TYPE_VIDEO, &tin);
  read_packets(out, AVMEDIA_TYPE_VIDEO, &tout);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(seconds(a[i].pts, tin), seconds(b[i].pts, tout), 1e-6) << "frame " << i;
    EXPECT_GE(psnr(a[i], b[i], outside_box, &box), 45.0) << "frame " << i;
    EXPECT_GT(mean_abs_diff_in(a[i], b[i], spec.mark), 40.0) << "frame " << i << ": mark not removed";
  }

  AVRational ain, aout;
  auto audio_in = read_packets(in, AVMEDIA_TYPE_AUDIO, &ain);
  auto audio_out = read_packets(out, AVMEDIA_TYPE_AUDIO, &aout);
  ASSERT_EQ(audio_in.size(), audio_out.size());
  ASSERT_FALSE(audio_in.empty());
  for (size_t i = 0; i < audio_in.size(); ++i) {
    ASSERT_EQ(audio_in[i].data, audio_out[i].data) << "audio packet " << i;
    ASSERT_NEAR(seconds(audio_in[i].pts, ain), seconds(audio_out[i].pts, aout), 1e-6);
  }

  auto pin = probe_media(in), pout = probe_media(out);
  EXPECT_NEAR(pin["streams"][0]["duration"].get<double>(), pout["streams"][0]["duration"].get<double>(), 1e-3);
  EXPECT_EQ(pout["streams"][0]["pix_fmt"], "yuv420p");
}

TEST(Pipeline, VariableFrameRateTimestampsAreKept) {
  std::string dir = temp_dir("pipeline_vfr");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.frames = 40;
  spec.time_base = {1, 1000};
  int64_t t = 0;
  for (int i = 0; i < spec.frames; ++i) {
    spec.pts.push_back(t);
    t += (i % 3 == 0) ? 17 : (i % 3 == 1) ? 33 : 71;  // uneven steps
  }
  write_media(in, spec);
  run_remove(job_for(in, out, {"10,10,40,30"}));
  AVRational tin, tout;
  auto vin = read_packets(in, AVMEDIA_TYPE_VIDEO, &tin);
  auto a = decode_video(in), b = decode_video(out);
  read_packets(out, AVMEDIA_TYPE_VIDEO, &tout);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(seconds(a[i].pts, tin), seconds(b[i].pts, tout), 1e-6) << "frame " << i;
  EXPECT_NEAR(seconds(b.back().pts - b.front().pts, tout), (t - 71 - 0) / 1000.0 - 0.0, 0.2);
}

TEST(Pipeline, TenBitStaysTenBit) {
  std::string dir = temp_dir("pipeline_10bit");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.pix_fmt = AV_PIX_FMT_YUV420P10LE;
  spec.frames = 24;
  spec.audio = false;
  spec.mark = {52, 62, 36, 16};
  write_media(in, spec);
  Box box{50, 60, 40, 20};
  run_remove(job_for(in, out, {"50,60,40,20"}));
  EXPECT_EQ(probe_media(out)["streams"][0]["pix_fmt"], "yuv420p10le");
  auto a = decode_video(in), b = decode_video(out);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(psnr(a[i], b[i], outside_box, &box, 1023), 45.0);
    EXPECT_GT(mean_abs_diff_in(a[i], b[i], spec.mark), 160.0);  // 10-bit samples
  }
}

TEST(Pipeline, KeepsRotationColourAndContainerMetadata) {
  std::string dir = temp_dir("pipeline_meta");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.frames = 12;
  spec.rotation = 90;
  spec.bt709 = true;
  spec.tags = {{"title", "unmark test clip"}, {"comment", "made by the tests"}};
  write_media(in, spec);
  run_remove(job_for(in, out, {"1,1,20,20"}));
  auto pin = probe_media(in), pout = probe_media(out);
  auto& vin = pin["streams"][0];
  auto& vout = pout["streams"][0];
  EXPECT_EQ(std::abs(vin["rotation"].get<double>()), 90.0);
  EXPECT_EQ(vout["rotation"], vin["rotation"]);
  for (const char* key : {"color_primaries", "color_transfer", "color_space", "color_range"}) {
    EXPECT_EQ(vin[key], key == std::string("color_range") ? "tv" : "bt709") << key;
    EXPECT_EQ(vout[key], vin[key]) << key;
  }
  EXPECT_EQ(pout["format"]["tags"]["title"], "unmark test clip");
  EXPECT_EQ(pout["format"]["tags"]["comment"], "made by the tests");
}

TEST(Pipeline, AudioTheContainerCannotHoldIsReencoded) {
  std::string dir = temp_dir("pipeline_pcm");
  std::string in = dir + "/in.mkv";
  MediaSpec spec;
  spec.frames = 30;
  spec.audio_codec = AV_CODEC_ID_PCM_S16LE;
  write_media(in, spec);

  // mkv holds PCM: copied bit for bit.
  run_remove(job_for(in, dir + "/out.mkv", {"5,5,30,30"}));
  auto pcm_in = read_packets(in, AVMEDIA_TYPE_AUDIO), pcm_out = read_packets(dir + "/out.mkv", AVMEDIA_TYPE_AUDIO);
  ASSERT_EQ(pcm_in.size(), pcm_out.size());
  for (size_t i = 0; i < pcm_in.size(); ++i) ASSERT_EQ(pcm_in[i].data, pcm_out[i].data);

  // mp4 does not: re-encoded to AAC, same length.
  run_remove(job_for(in, dir + "/out.mp4", {"5,5,30,30"}));
  auto p = probe_media(dir + "/out.mp4");
  ASSERT_EQ(p["streams"].size(), 2u);
  EXPECT_EQ(p["streams"][1]["codec"], "aac");
  EXPECT_NEAR(p["streams"][1]["duration"].get<double>(), 1.0, 0.05);
}

TEST(Pipeline, TimeRangeLimitsTheRegion) {
  std::string dir = temp_dir("pipeline_range");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.frames = 30;  // 1 s at 30 fps
  spec.audio = false;
  spec.mark = {100, 100, 50, 40};
  write_media(in, spec);
  Box box{100, 100, 50, 40};
  RunReport r = run_remove(job_for(in, out, {"100,100,50,40@0.5-0.8"}));
  EXPECT_EQ(r.frames_with_marks, 9);  // frames 15..23 (t = 0.5 .. 0.7667)
  auto a = decode_video(in), b = decode_video(out);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    bool active = i >= 15 && i <= 23;
    double d = mean_abs_diff_in(a[i], b[i], box);
    if (active) EXPECT_GT(d, 40.0) << i;
    else EXPECT_LT(d, 2.0) << i;
  }
}

TEST(Pipeline, X265AndMkvOutput) {
  std::string dir = temp_dir("pipeline_x265");
  std::string in = dir + "/in.mp4", out = dir + "/out.mkv";
  MediaSpec spec;
  spec.frames = 20;
  write_media(in, spec);
  RemoveJob job = job_for(in, out, {"10,10,30,30"});
  job.encoder.name = "x265";
  job.encoder.preset = "ultrafast";
  RunReport r = run_remove(job);
  EXPECT_EQ(r.encoder, "x265");
  auto p = probe_media(out);
  EXPECT_EQ(p["streams"][0]["codec"], "hevc");
  EXPECT_EQ(decode_video(out).size(), 20u);
}

TEST(Pipeline, CancelLeavesNoOutput) {
  std::string dir = temp_dir("pipeline_cancel");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.frames = 120;
  write_media(in, spec);
  std::atomic<bool> cancel{false};
  try {
    run_remove(job_for(in, out, {"10,10,30,30"}),
               [&](const Progress& p) { if (p.frames_done >= 1) cancel = true; }, &cancel);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cancelled);
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(no_temp_files(dir));
}

TEST(Pipeline, TextSubtitlesAreCopiedOrConverted) {
  std::string dir = temp_dir("pipeline_subs");
  std::string in = dir + "/in.mkv";
  MediaSpec spec;
  spec.frames = 60;
  spec.subtitles = {{100, 500, "first line"}, {900, 600, "second line"}};
  write_media(in, spec);

  run_remove(job_for(in, dir + "/out.mkv", {"5,5,30,30"}));
  AVRational tb_in;
  auto subs_in = read_packets(in, AVMEDIA_TYPE_SUBTITLE, &tb_in);
  auto kept = read_packets(dir + "/out.mkv", AVMEDIA_TYPE_SUBTITLE);
  ASSERT_EQ(kept.size(), 2u);
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i].data, subs_in[i].data);

  // mp4 holds no SubRip: converted to mov_text, same cues at the same times.
  run_remove(job_for(in, dir + "/out.mp4", {"5,5,30,30"}));
  AVRational tb;
  auto all = read_packets(dir + "/out.mp4", AVMEDIA_TYPE_SUBTITLE, &tb);
  std::vector<PacketRecord> converted;  // mp4 text tracks fill the gaps with empty (2-byte) samples
  for (auto& pkt : all)
    if (pkt.data.size() > 2) converted.push_back(pkt);
  auto p = probe_media(dir + "/out.mp4");
  ASSERT_EQ(p["streams"].size(), 3u);
  EXPECT_EQ(p["streams"][2]["codec"], "mov_text");
  EXPECT_EQ(p["streams"][2]["tags"]["language"], "eng");
  ASSERT_EQ(converted.size(), 2u);
  EXPECT_NEAR(seconds(converted[1].pts, tb), seconds(subs_in[1].pts, tb_in), 1e-3);
  EXPECT_NEAR(seconds(converted[1].duration, tb), 0.6, 1e-3);
  std::string text(converted[1].data.begin() + 2, converted[1].data.end());  // 2-byte length prefix
  EXPECT_EQ(text, "second line");
}

TEST(Pipeline, OddPlacedRegionOnAnUnalignedSize) {
  // 330x186: even, but no multiple of 16; the region starts and ends on odd luma pixels.
  std::string dir = temp_dir("pipeline_unaligned");
  std::string in = dir + "/in.mp4", out = dir + "/out.mp4";
  MediaSpec spec;
  spec.width = 330;
  spec.height = 186;
  spec.frames = 20;
  spec.mark = {13, 9, 29, 17};
  write_media(in, spec);
  Box box{11, 7, 33, 21};
  run_remove(job_for(in, out, {"11,7,33,21"}));
  auto a = decode_video(in), b = decode_video(out);
  ASSERT_EQ(b.size(), 20u);
  EXPECT_EQ(b[0].width, 330);
  EXPECT_EQ(b[0].height, 186);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(psnr(a[i], b[i], outside_box, &box), 45.0) << i;
    EXPECT_GT(mean_abs_diff_in(a[i], b[i], spec.mark), 40.0) << i;
  }
}

TEST(Pipeline, KeepsChapters) {
  std::string dir = temp_dir("pipeline_chapters");
  MediaSpec spec;
  spec.frames = 60;  // 2 s
  spec.chapters = {{0, 1000, "Opening"}, {1000, 1000, "The end"}};
  for (const char* ext : {".mkv", ".mp4"}) {
    std::string in = dir + "/in" + ext, out = dir + "/out" + ext;
    write_media(in, spec);
    run_remove(job_for(in, out, {"5,5,30,30"}));
    auto pin = probe_media(in), pout = probe_media(out);
    ASSERT_EQ(pin["chapters"].size(), 2u) << ext;
    ASSERT_EQ(pout["chapters"].size(), 2u) << ext;
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(pout["chapters"][i]["tags"]["title"], pin["chapters"][i]["tags"]["title"]) << ext;
      EXPECT_NEAR(pout["chapters"][i]["start"].get<double>(), pin["chapters"][i]["start"].get<double>(), 1e-3) << ext;
    }
  }
}

// -- transcode operations -------------------------------------------------------------------------

namespace {

// Which input frame an output frame shows: the one it is most alike (the test texture moves).
size_t best_match(const DecodedFrame& out, const std::vector<DecodedFrame>& in) {
  size_t best = 0;
  double best_psnr = -1;
  for (size_t i = 0; i < in.size(); ++i) {
    double p = psnr(out, in[i], nullptr, nullptr);
    if (p > best_psnr) best_psnr = p, best = i;
  }
  return best;
}

}  // namespace

TEST(Pipeline, TrimKeepsTheSpanWithItsAudioInSync) {
  std::string dir = temp_dir("pipeline_trim");
  MediaSpec spec;
  spec.frames = 90;  // 3 s at 30 fps, with a tone
  write_media(dir + "/in.mp4", spec);
  RemoveJob job = job_for(dir + "/in.mp4", dir + "/out.mp4", {});
  job.detection.mode = "none";
  job.edits.start = 1.0;
  job.edits.end = 2.0;
  RunReport report = run_remove(job);
  EXPECT_EQ(report.frames, 30);

  auto in = decode_video(dir + "/in.mp4");
  auto out = decode_video(dir + "/out.mp4");
  ASSERT_EQ(out.size(), 30u);
  EXPECT_EQ(best_match(out.front(), in), 30u) << "the first frame kept is not the one at 1 s";
  EXPECT_EQ(best_match(out.back(), in), 59u);
  AVRational vtb{}, atb{};
  auto video = read_packets(dir + "/out.mp4", AVMEDIA_TYPE_VIDEO, &vtb);
  auto audio = read_packets(dir + "/out.mp4", AVMEDIA_TYPE_AUDIO, &atb);
  ASSERT_FALSE(audio.empty()) << "the audio was lost";
  int64_t first_video = INT64_MAX;
  for (auto& p : video) first_video = std::min(first_video, p.pts);
  EXPECT_NEAR(seconds(first_video, vtb), 0.0, 1e-6);
  // Audio is cut at its packets (AAC: 1024 samples, ~23 ms), so it starts and ends within one.
  EXPECT_NEAR(seconds(audio.front().pts, atb), 0.0, 0.03);
  const auto& last = audio.back();
  EXPECT_NEAR(seconds(last.pts + last.duration, atb), 1.0, 0.05);
}

TEST(Pipeline, ScaleAndConstantFrameRate) {
  std::string dir = temp_dir("pipeline_scale_fps");
  MediaSpec spec;
  spec.frames = 60;  // 2 s at 30 fps, 320x240
  write_media(dir + "/in.mp4", spec);
  auto in = decode_video(dir + "/in.mp4");

  RemoveJob half = job_for(dir + "/in.mp4", dir + "/half.mp4", {});
  half.detection.mode = "none";
  half.edits.width = 160;  // height from the aspect ratio
  half.edits.fps = 15;
  half.edits.audio = false;
  run_remove(half);
  auto out = decode_video(dir + "/half.mp4");
  ASSERT_EQ(out.size(), 30u);  // every other frame
  EXPECT_EQ(out[0].width, 160);
  EXPECT_EQ(out[0].height, 120);
  AVRational tb{};
  auto packets = read_packets(dir + "/half.mp4", AVMEDIA_TYPE_VIDEO, &tb);
  std::vector<double> times;
  for (auto& p : packets) times.push_back(seconds(p.pts, tb));
  std::sort(times.begin(), times.end());
  for (size_t i = 0; i < times.size(); ++i) EXPECT_NEAR(times[i], double(i) / 15, 1e-3) << i;
  EXPECT_TRUE(read_packets(dir + "/half.mp4", AVMEDIA_TYPE_AUDIO).empty()) << "--no-audio kept audio";

  RemoveJob doubled = job_for(dir + "/in.mp4", dir + "/double.mp4", {});
  doubled.detection.mode = "none";
  doubled.edits.fps = 60;
  doubled.edits.width = 320;
  doubled.edits.height = 180;  // both sides given: exactly that size
  run_remove(doubled);
  auto twice = decode_video(dir + "/double.mp4");
  ASSERT_EQ(twice.size(), 120u);  // every frame twice
  EXPECT_EQ(twice[0].height, 180);
  EXPECT_FALSE(read_packets(dir + "/double.mp4", AVMEDIA_TYPE_AUDIO).empty());
}

TEST(Pipeline, BadEditsAreRefusedAndLeaveNoOutput) {
  std::string dir = temp_dir("pipeline_bad_edits");
  MediaSpec spec;
  spec.frames = 30;
  write_media(dir + "/in.mp4", spec);
  auto run = [&](EditSettings e) {
    RemoveJob job = job_for(dir + "/in.mp4", dir + "/out.mp4", {});
    job.detection.mode = "none";
    job.edits = e;
    try {
      run_remove(job);
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(run({.start = 2, .end = 1}).find("end must come after"), std::string::npos);
  EXPECT_NE(run({.fps = 1000}).find("frame rate"), std::string::npos);
  EXPECT_NE(run({.start = 50}).find("shorter"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/out.mp4"));
  EXPECT_TRUE(no_temp_files(dir));
}

// Micro-benchmarks of the per-frame kernels (one core). Run: build/bench/unmark_microbench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/frame.h"
#include "remove/inpaint_kernel.h"

using namespace unmark;

// Inpainting one box on a 1080x1920 luma plane; args: box width, height.
static void BM_InpaintLuma(benchmark::State& state) {
  const int w = 1080, h = 1920;
  std::vector<uint8_t> plane(size_t(w) * h);
  std::mt19937 rng(1);
  for (auto& v : plane) v = uint8_t(rng());
  const Box box{700, 1700, int(state.range(0)), int(state.range(1))};
  for (auto _ : state) {
    inpaint_box(plane.data(), w, w, h, box, 2);
    benchmark::DoNotOptimize(plane.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InpaintLuma)->Args({100, 30})->Args({200, 80})->Args({400, 120});

// The copy a remover pays to write into a decoder-owned 1080x1920 yuv420p frame.
static void BM_MakeWritable1080p(benchmark::State& state) {
  AVFramePtr src = make_av_frame();
  src->format = AV_PIX_FMT_YUV420P;
  src->width = 1080;
  src->height = 1920;
  av_frame_get_buffer(src.get(), 0);
  for (auto _ : state) {
    Frame f;
    f.av = make_av_frame();
    av_frame_ref(f.av.get(), src.get());
    f.make_writable();
    benchmark::DoNotOptimize(f.av->data[0]);
  }
}
BENCHMARK(BM_MakeWritable1080p);

// ---- detection at 1080x1920 (one core) ---------------------------------------------------------
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "detect/blend_test.h"
#include "detect/detector.h"
#include "detect/profile.h"
#include "detect/scale_search.h"
#include "io/frame_reader.h"

namespace {

// Frames of the shared Sora clip scaled to 1080x1920 (the mark scales with them), or none.
const std::vector<Frame>& sora_frames_1080() {
  static std::vector<Frame> frames = [] {
    std::vector<Frame> out;
    const std::string path = std::string(UNMARK_SHARED_DIR) + "/media/sora2_beach_480x872.mp4";
    if (!std::filesystem::exists(path)) return out;
    SwsContextPtr sws;
    read_frames(path, [&](Frame& f) {
      if (!sws)
        sws.reset(sws_getContext(f.width(), f.height(), AVPixelFormat(f.av->format), 1080, 1920,
                                 AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
      Frame big;
      big.index = f.index;
      big.av = make_av_frame();
      big.av->format = AV_PIX_FMT_YUV420P;
      big.av->width = 1080;
      big.av->height = 1920;
      av_frame_get_buffer(big.av.get(), 0);
      sws_scale(sws.get(), f.av->data, f.av->linesize, 0, f.height(), big.av->data, big.av->linesize);
      out.push_back(std::move(big));
      return out.size() < 300;
    });
    return out;
  }();
  return frames;
}

// A 1080x1920 frame of blurred noise: texture everywhere, no mark.
Frame noise_frame_1080() {
  AVFramePtr av = make_av_frame();
  av->format = AV_PIX_FMT_YUV420P;
  av->width = 1080;
  av->height = 1920;
  av_frame_get_buffer(av.get(), 0);
  cv::Mat y(1920, 1080, CV_8U, av->data[0], size_t(av->linesize[0]));
  cv::randu(y, 0, 255);
  cv::GaussianBlur(y, y, {0, 0}, 3);
  Frame f;
  f.av = std::move(av);
  return f;
}

}  // namespace

// The detector's per-frame cost over the whole clip at 1080x1920: mostly verification where the
// mark was, a search at each jump.
static void BM_DetectSora1080(benchmark::State& state) {
  const auto& frames = sora_frames_1080();
  if (frames.empty()) {
    state.SkipWithError("../shared/media not present");
    return;
  }
  Profile profile = load_profile("sora2");
  int64_t found = 0;
  for (auto _ : state) {
    auto detector = make_profile_detector(profile, 1080, 1920);
    for (const Frame& f : frames) found += !detector->detect(f).empty();
  }
  // items_per_second is frames per second: 1000 / it is the milliseconds per frame.
  state.SetItemsProcessed(state.iterations() * int64_t(frames.size()));
  state.counters["found_fraction"] = double(found) / double(state.iterations() * int64_t(frames.size()));
}
BENCHMARK(BM_DetectSora1080)->Unit(benchmark::kMillisecond)->Iterations(3);

// The worst case: a video without the mark, where every miss may search.
static void BM_DetectNoMark1080(benchmark::State& state) {
  const Frame f = noise_frame_1080();
  Profile profile = load_profile("sora2");
  auto detector = make_profile_detector(profile, 1080, 1920);
  for (auto _ : state) benchmark::DoNotOptimize(detector->detect(f));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DetectNoMark1080)->Unit(benchmark::kMillisecond);

// The scale search's cost per frame looked at (every scale, both layouts; 9 frames at most per
// video, 3 when the mark is there): a 1080x1920 frame without the mark. Arg 1: the glyph alone,
// searched where the whole mark was not found.
static void BM_ScaleSearchFrame1080(benchmark::State& state) {
  const Frame f = noise_frame_1080();
  const Profile sora = load_profile("sora2");
  const Profile profile = state.range(0) ? *glyph_profile(sora) : sora;
  ScaleSearch search(profile, 1080, 1920, state.range(0) ? ScaleSearch::for_glyph() : ScaleSearchOptions{});
  for (auto _ : state) benchmark::DoNotOptimize(search.observe(f));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScaleSearchFrame1080)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The blend test's scores over a 1080x1920 frame downscaled as the search does (the Sora mark
// ~40 px wide): what a search costs where correlation found nothing.
static void BM_BlendTestSearch1080(benchmark::State& state) {
  Profile profile = load_profile("sora2");
  const double scale = 40.0 / profile.width();  // the mark's own pixels to search pixels
  const double frame_scale = 40.0 / (profile.width() * 1080.0 / profile.reference_width);
  cv::Mat alpha, colour;
  std::vector<cv::Mat> yuv;
  cv::split(profile.color, yuv);
  resize_for_blend_test(profile.alpha, yuv[0], scale, alpha, colour);
  const BlendTest test(alpha, colour);
  cv::Mat frame(int(1920 * frame_scale), int(1080 * frame_scale), CV_8U);
  cv::randu(frame, 0, 255);
  cv::GaussianBlur(frame, frame, {0, 0}, 1.5);
  for (auto _ : state) benchmark::DoNotOptimize(test.scores(frame));
  state.counters["pairs_ok"] = test.usable();
  state.counters["image_w"] = frame.cols;
}
BENCHMARK(BM_BlendTestSearch1080)->Unit(benchmark::kMillisecond);

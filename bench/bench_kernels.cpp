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

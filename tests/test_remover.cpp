#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>

#include "core/error.h"
#include <opencv2/imgproc.hpp>

#include "remove/halo.h"
#include "remove/remover.h"
#include "remove/scene_flow.h"
#include "detect/profile.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace unmark;

namespace {

// A frame with its buffers allocated, samples not set.
Frame blank_frame(int w, int h, AVPixelFormat fmt) {
  Frame f;
  f.av = make_av_frame();
  f.av->format = fmt;
  f.av->width = w;
  f.av->height = h;
  if (av_frame_get_buffer(f.av.get(), 0) < 0) throw std::runtime_error("alloc");
  return f;
}

Frame random_frame(int w, int h, AVPixelFormat fmt, unsigned seed) {
  Frame f = blank_frame(w, h, fmt);
  std::mt19937 rng(seed);
  for (int p = 0; p < f.plane_count(); ++p) {
    PlaneView pv = f.plane(p);
    for (int y = 0; y < pv.height; ++y)
      for (int x = 0; x < pv.width; ++x) {
        if (pv.wide())
          reinterpret_cast<uint16_t*>(pv.data + y * pv.stride)[x] = uint16_t(rng() % (pv.max_value() + 1));
        else
          pv.data[y * pv.stride + x] = uint8_t(rng());
      }
  }
  return f;
}

int sample(const PlaneView& pv, int x, int y) {
  return pv.wide() ? reinterpret_cast<const uint16_t*>(pv.data + y * pv.stride)[x]
                   : pv.data[y * pv.stride + x];
}

}  // namespace

// The keep invariant on a real frame: outside the box (rounded outward per plane) every sample of
// every plane is identical; inside, the mark is gone.
TEST(InpaintRemover, ChangesOnlyTheBoxOnEveryPlane) {
  auto remover = make_remover("inpaint", {});
  for (AVPixelFormat fmt : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV422P,
                            AV_PIX_FMT_YUV444P, AV_PIX_FMT_GRAY8}) {
    for (Box box : {Box{7, 5, 13, 9}, Box{0, 0, 10, 6}, Box{41, 31, 4, 4}}) {
      Frame original = random_frame(45, 35, fmt, unsigned(box.x + fmt));
      SegmentFrame sf{Frame{}, {Mark{box, 1.0f}}};
      sf.frame.av = make_av_frame();
      av_frame_ref(sf.frame.av.get(), original.av.get());  // shares buffers, as a decoder's frame does
      std::vector<SegmentFrame> seg;
      seg.push_back(std::move(sf));
      remover->remove(seg);
      const Frame& out = seg[0].frame;
      ASSERT_NE(out.av->data[0], original.av->data[0]) << "wrote into a shared buffer";
      for (int p = 0; p < out.plane_count(); ++p) {
        PlaneView a = original.plane(p), b = out.plane(p);
        Box pb = box.subsampled(b.shift_x, b.shift_y);
        long changed = 0;
        for (int y = 0; y < b.height; ++y)
          for (int x = 0; x < b.width; ++x) {
            if (pb.contains(x, y)) changed += sample(a, x, y) != sample(b, x, y);
            else ASSERT_EQ(sample(a, x, y), sample(b, x, y))
                << av_get_pix_fmt_name(fmt) << " plane " << p << " at " << x << "," << y;
          }
        EXPECT_GT(changed, 0) << av_get_pix_fmt_name(fmt) << " plane " << p;
      }
    }
  }
}

TEST(InpaintRemover, FramesWithoutMarksAreNotTouched) {
  auto remover = make_remover("auto", {});
  Frame original = random_frame(32, 32, AV_PIX_FMT_YUV420P, 1);
  std::vector<SegmentFrame> seg(1);
  seg[0].frame.av = make_av_frame();
  av_frame_ref(seg[0].frame.av.get(), original.av.get());
  remover->remove(seg);
  EXPECT_EQ(seg[0].frame.av->data[0], original.av->data[0]);  // not even copied
}

TEST(RemoverRegistry, UnknownNameIsAUsageError) {
  try {
    make_remover("lama-xl", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("inpaint"), std::string::npos);
  }
  EXPECT_FALSE(list_removers().empty());
}

// ---- temporal fill ------------------------------------------------------------------------------

namespace {

// A scene of noise panning `pan` luma samples a frame (even, so chroma pans by whole samples too),
// with an opaque white block over `box_at(k)` in frame k (none where it returns an empty box).
struct PanningScene {
  int width = 96, height = 64, pan = 2;
  static int noise(int x, int y, int plane) {
    uint32_t h = uint32_t(x) * 73856093u ^ uint32_t(y) * 19349663u ^ uint32_t(plane + 1) * 83492791u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    return int(h >> 24) % 200 + 28;
  }
  Frame frame(int k, const Box& mark) const {
    Frame f = blank_frame(width, height, AV_PIX_FMT_YUV420P);
    f.index = k;
    for (int p = 0; p < 3; ++p) {
      PlaneView pv = f.plane(p);
      for (int y = 0; y < pv.height; ++y)
        for (int x = 0; x < pv.width; ++x) {
          const int lx = x << pv.shift_x, ly = y << pv.shift_y;
          const bool marked = mark.contains(lx, ly);
          pv.data[y * pv.stride + x] = uint8_t(marked ? (p ? 128 : 250) : noise(x + ((k * pan) >> pv.shift_x), y, p));
        }
    }
    return f;
  }
};

// Samples of plane p of `a` and `b` that differ inside `box` (luma coordinates).
long differing(const Frame& a, const Frame& b, const Box& box) {
  long n = 0;
  for (int p = 0; p < a.plane_count(); ++p) {
    PlaneView pa = a.plane(p), pb = b.plane(p);
    const Box r = box.subsampled(pa.shift_x, pa.shift_y).clipped(pa.width, pa.height);
    for (int y = r.y; y < r.bottom(); ++y)
      for (int x = r.x; x < r.right(); ++x) n += sample(pa, x, y) != sample(pb, x, y);
  }
  return n;
}

}  // namespace

TEST(TemporalRemover, TakesWhatAJumpingMarkHidFromTheFramesThatSawIt) {
  // An opaque mark jumping between two places every 5 frames over a panning scene: every frame's
  // hidden samples were seen a few frames away, shifted by the pan, and come back exactly. The
  // spatial fill, which sees only the ring around the box, cannot bring noise back.
  PanningScene scene;
  const Box a{14, 10, 20, 12}, b{56, 36, 22, 14};
  auto place = [&](int k) { return (k / 5) % 2 ? b : a; };
  for (const char* name : {"temporal", "auto", "inpaint"}) {
    auto remover = make_remover(name, {});
    std::vector<SegmentFrame> segment;
    for (int k = 0; k < 20; ++k) segment.push_back({scene.frame(k, place(k)), {Mark{place(k), 1.0f}}});
    remover->remove(segment);
    long wrong = 0, total = 0;
    for (int k = 0; k < 20; ++k) {
      wrong += differing(segment[size_t(k)].frame, scene.frame(k, {}), place(k));
      total += place(k).w * place(k).h * 3 / 2;
      // Outside the box nothing changed.
      Frame before = scene.frame(k, place(k));
      EXPECT_EQ(differing(segment[size_t(k)].frame, before, {0, 0, scene.width, scene.height}),
                differing(segment[size_t(k)].frame, before, place(k)));
    }
    std::printf("%s: %ld of %ld hidden samples wrong\n", name, wrong, total);
    if (std::string(name) == "inpaint") EXPECT_GT(wrong, total / 2) << name;
    else EXPECT_EQ(wrong, 0) << name;
  }
}

TEST(TemporalRemover, EarlierSegmentsAreSourcesAndAChangedSceneIsNot) {
  // Across segments: the second segment's mark sits where the first one's frames saw the scene.
  // Then the scene under the second place changes between the segments (a new picture): those
  // frames disagree around the box and are not used; the fill falls back to painting.
  PanningScene scene;
  scene.pan = 0;
  const Box a{14, 10, 20, 12}, b{56, 36, 22, 14};
  for (bool changed : {false, true}) {
    auto remover = make_remover("temporal", {});
    std::vector<SegmentFrame> first, second;
    for (int k = 0; k < 8; ++k) first.push_back({scene.frame(k, a), {Mark{a, 1.0f}}});
    remover->remove(first);
    for (int k = 8; k < 16; ++k) {
      Frame f = scene.frame(k, b);
      if (changed) {  // another picture altogether
        PlaneView y = f.plane(0);
        for (int yy = 0; yy < y.height; ++yy)
          for (int x = 0; x < y.width; ++x)
            if (!b.contains(x, yy)) y.data[yy * y.stride + x] = uint8_t(255 - y.data[yy * y.stride + x]);
      }
      second.push_back({std::move(f), {Mark{b, 1.0f}}});
    }
    remover->remove(second);
    long wrong = 0;
    for (int k = 0; k < 8; ++k) wrong += differing(second[size_t(k)].frame, scene.frame(k + 8, {}), b);
    if (!changed) {
      EXPECT_EQ(wrong, 0);
    } else {
      // Painted, not copied from the old picture: the luma inside differs from the old scene.
      long copied = 0;
      PlaneView y = second[0].frame.plane(0);
      Frame old = scene.frame(0, {});
      PlaneView o = old.plane(0);
      for (int yy = b.y; yy < b.bottom(); ++yy)
        for (int x = b.x; x < b.right(); ++x) copied += sample(y, x, yy) == sample(o, x, yy);
      EXPECT_LT(copied, b.w * b.h / 4);
    }
  }
}

namespace {

// A smooth scene (no detail finer than a few samples, as a real one after the camera's optics)
// sliding `pan_x`, `pan_y` luma samples per frame, with an opaque block over `mark`.
struct SlidingScene {
  int width = 128, height = 72;
  double pan_x = 1.5, pan_y = 0.5;
  static double texture(double x, double y, int plane) {
    const double p = plane * 1.7;
    return 128 + 45 * std::sin(0.31 * x + 0.17 * y + p) + 30 * std::sin(0.23 * y - 0.41 * x + 1 + p) +
           20 * std::sin(0.53 * x + p) * std::cos(0.29 * y);
  }
  Frame frame(int k, const Box& mark) const {
    Frame f = blank_frame(width, height, AV_PIX_FMT_YUV420P);
    f.index = k;
    for (int p = 0; p < 3; ++p) {
      PlaneView pv = f.plane(p);
      const double s = double(1 << pv.shift_x);
      for (int y = 0; y < pv.height; ++y)
        for (int x = 0; x < pv.width; ++x) {
          const double lx = (x + 0.5) * s - 0.5, ly = (y + 0.5) * s - 0.5;  // the sample's centre, luma
          const bool marked = mark.contains(int(lx + 0.5), int(ly + 0.5));
          const double v = texture(lx - k * pan_x, ly - k * pan_y, p);
          pv.data[y * pv.stride + x] = uint8_t(marked ? (p ? 128 : 250) : std::lround(std::clamp(v, 0.0, 255.0)));
        }
    }
    return f;
  }
};

// Mean |difference| of the luma samples of `a` and `b` inside `box`.
double luma_error(const Frame& a, const Frame& b, const Box& box) {
  double sum = 0;
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x) sum += std::abs(sample(a.plane(0), x, y) - sample(b.plane(0), x, y));
  return sum / double(box.area());
}

}  // namespace

TEST(SceneFlow, MeasuresTheSceneMovingUnderAStaticMark) {
  // The scene slides (1.5, 0.5) per frame under a block that stays put. Fitted on every sample,
  // patches touching the block would say it stands still; the flow leaves the block out and
  // carries the scene's motion across it.
  SlidingScene scene;
  const Box mark{52, 26, 24, 14};
  const Frame a = scene.frame(0, mark), b = scene.frame(1, mark);
  const std::vector<Cover> hidden{{mark, {}}};
  const Box crop = mark.grown(24).clipped(scene.width, scene.height);
  std::optional<SceneFlow> flow = SceneFlow::measure(a.plane(0), b.plane(0), crop, hidden, hidden);
  ASSERT_TRUE(flow);
  double worst = 0;
  for (int y = crop.y; y < crop.bottom(); y += 3)
    for (int x = crop.x; x < crop.right(); x += 3) {
      const SceneFlow::Motion m = flow->at(float(x), float(y));
      worst = std::max(worst, std::hypot(m.dx - scene.pan_x, m.dy - scene.pan_y));
    }
  EXPECT_LT(worst, 0.25) << "motion off by up to " << worst << " samples";

  // Another picture altogether (a cut): no flow.
  SlidingScene other;
  other.pan_x = 40;
  EXPECT_FALSE(SceneFlow::measure(a.plane(0), other.frame(3, mark).plane(0), crop, hidden, hidden));
}

TEST(TemporalRemover, FollowsASceneMovingUnderAStaticMark) {
  // A static opaque block over a scene sliding 1.5 samples a frame: no single frame, shifted
  // within the search, shows the middle of the block's spot, but following the motion frame by
  // frame reaches where each hidden sample came out. Painting can only guess.
  SlidingScene scene;
  const Box mark{52, 26, 24, 14};
  std::map<std::string, double> error;
  for (const char* name : {"temporal", "inpaint"}) {
    auto remover = make_remover(name, {});
    std::vector<SegmentFrame> segment;
    for (int k = 0; k < 40; ++k) segment.push_back({scene.frame(k, mark), {Mark{mark, 1.0f}}});
    remover->remove(segment);
    double sum = 0;
    for (int k = 0; k < 40; ++k) sum += luma_error(segment[size_t(k)].frame, scene.frame(k, {}), mark);
    error[name] = sum / 40;
    std::printf("%s: mean |error| %.2f levels over the hidden luma\n", name, error[name]);
  }
  EXPECT_LT(error["temporal"], 2.0);
  EXPECT_GT(error["inpaint"], 4 * error["temporal"]);
}

TEST(DeblendRemover, ASpeckTheUndoingAmplifiedIsPaintedOver) {
  // A mark of alpha 0.5 over a smooth scene: undoing recovers it exactly, but a sample that
  // compression pushed 12 levels up comes back 24 levels off, a bright speck among neighbours
  // that all agree. It is painted from them instead.
  SlidingScene scene;
  const Box box{40, 20, 24, 12};
  auto mark = std::make_shared<ScaledMark>();
  mark->alpha = cv::Mat(box.h, box.w, CV_32F, cv::Scalar(0.5f));
  mark->color = cv::Mat(box.h, box.w, CV_32FC3, cv::Scalar(235, 128, 128));
  mark->undo = cv::Mat(box.h, box.w, CV_8U, cv::Scalar(255));
  const Frame truth = scene.frame(0, {});
  Frame frame = scene.frame(0, {});
  for (int p = 0; p < 3; ++p) {
    PlaneView pv = frame.plane(p);
    const Box pb = box.subsampled(pv.shift_x, pv.shift_y);
    const double colour = p == 0 ? 235 : 128;
    for (int y = pb.y; y < pb.bottom(); ++y)
      for (int x = pb.x; x < pb.right(); ++x)
        pv.data[y * pv.stride + x] = uint8_t(std::lround(0.5 * colour + 0.5 * pv.data[y * pv.stride + x]));
  }
  const int sx = 50, sy = 25;  // the sample compression pushed up
  PlaneView luma = frame.plane(0);
  luma.data[sy * luma.stride + sx] = uint8_t(luma.data[sy * luma.stride + sx] + 12);
  std::vector<SegmentFrame> segment;
  segment.push_back({std::move(frame), {Mark{box, 1.0f, mark}}});
  make_remover("deblend", {})->remove(segment);
  const Frame& out = segment[0].frame;
  EXPECT_LE(std::abs(sample(out.plane(0), sx, sy) - sample(truth.plane(0), sx, sy)), 6);
  // Everything else came back as it was (the rounding of the composite aside).
  int worst = 0;
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x)
      if (std::abs(x - sx) > 1 || std::abs(y - sy) > 1)
        worst = std::max(worst, std::abs(sample(out.plane(0), x, y) - sample(truth.plane(0), x, y)));
  EXPECT_LE(worst, 2);
}

namespace {
// A translucent logo (a disc of alpha 0.5 with a bar of 0.35) rendered by area coverage at
// (x, y) + `offset` of a w x h box: what a renderer drawing at a fractional position leaves.
cv::Mat rendered_alpha(int w, int h, cv::Point2f offset) {
  constexpr int k = 8;  // supersampling
  cv::Mat big = cv::Mat::zeros(h * k, w * k, CV_32F);
  auto at = [&](float x, float y) { return cv::Point(int(std::lround((x + offset.x) * k)), int(std::lround((y + offset.y) * k))); };
  cv::circle(big, at(10, 10), 7 * k, cv::Scalar(0.5), cv::FILLED);
  cv::rectangle(big, at(20, 7), at(34, 13), cv::Scalar(0.35), cv::FILLED);
  cv::Mat alpha;
  cv::resize(big, alpha, {w, h}, 0, 0, cv::INTER_AREA);
  return alpha;
}

// `alpha` (white) composited over every plane of `frame` at `box`; chroma takes the mean alpha
// of the luma samples it covers.
void composite(Frame& frame, const Box& box, const cv::Mat& alpha) {
  for (int p = 0; p < 3; ++p) {
    PlaneView pv = frame.plane(p);
    const double colour = p == 0 ? 235 : 128;
    for (int y = 0; y < box.h >> pv.shift_y; ++y)
      for (int x = 0; x < box.w >> pv.shift_x; ++x) {
        double a = 0;
        for (int v = 0; v < 1 << pv.shift_y; ++v)
          for (int u = 0; u < 1 << pv.shift_x; ++u) a += alpha.at<float>((y << pv.shift_y) + v, (x << pv.shift_x) + u);
        a /= double(1 << (pv.shift_x + pv.shift_y));
        uint8_t& s = pv.data[((box.y >> pv.shift_y) + y) * pv.stride + (box.x >> pv.shift_x) + x];
        s = uint8_t(std::lround(a * colour + (1 - a) * s));
      }
  }
}
}  // namespace

TEST(DeblendRemover, UndoesAMarkDrawnHalfASampleOffItsBox) {
  // The profile is the logo at whole-sample place; this frame drew it half a sample right and
  // down. Undone as the profile has it, every translucent edge comes back as a ghost; undone at
  // the shift that fits, most of it is gone.
  SlidingScene scene;
  const Box box{40, 20, 40, 20};
  auto mark = std::make_shared<ScaledMark>();
  mark->alpha = rendered_alpha(box.w, box.h, {0, 0});
  mark->color = cv::Mat(box.h, box.w, CV_32FC3, cv::Scalar(235, 128, 128));
  mark->undo = cv::Mat(box.h, box.w, CV_8U, cv::Scalar(255));
  const Frame truth = scene.frame(0, {});
  auto luma_error = [&](const Frame& f) {
    double sum = 0;
    for (int y = box.y; y < box.bottom(); ++y)
      for (int x = box.x; x < box.right(); ++x) sum += std::abs(sample(f.plane(0), x, y) - sample(truth.plane(0), x, y));
    return sum / double(box.w * box.h);
  };
  std::map<std::string, double> error;
  for (const auto& [name, offset] : {std::pair{"at its place", cv::Point2f(0, 0)}, {"half a sample off", cv::Point2f(0.5f, 0.5f)}}) {
    Frame frame = scene.frame(0, {});
    composite(frame, box, rendered_alpha(box.w, box.h, offset));
    // Undone as the profile has it, with no alignment: the ghost to beat.
    double naive = 0;
    for (int y = 0; y < box.h; ++y)
      for (int x = 0; x < box.w; ++x) {
        const double a = mark->alpha.at<float>(y, x);
        const double undone = (sample(frame.plane(0), box.x + x, box.y + y) - a * 235) / (1 - a);
        naive += std::abs(std::clamp(undone, 0.0, 255.0) - sample(truth.plane(0), box.x + x, box.y + y));
      }
    naive /= double(box.w * box.h);
    std::vector<SegmentFrame> segment;
    segment.push_back({std::move(frame), {Mark{box, 1.0f, mark}}});
    make_remover("deblend", {})->remove(segment);
    error[name] = luma_error(segment[0].frame);
    std::printf("%s: mean |error| %.2f levels (undone without aligning: %.2f)\n", name, error[name], naive);
    if (offset.x != 0) {
      EXPECT_LT(error[name], naive / 2);  // 1.2 against 3.3 levels here
    }
  }
  // What is left is the resampling's: a shifted profile is not quite the mark drawn there.
  EXPECT_LT(error["half a sample off"], 1.5);
  // The shared appearance is read, never written (its shifted copies once overwrote its colour
  // and undo map, which every later frame's mark then used).
  EXPECT_EQ(cv::norm(mark->alpha, rendered_alpha(box.w, box.h, {0, 0}), cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(mark->color, cv::Mat(box.h, box.w, CV_32FC3, cv::Scalar(235, 128, 128)), cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::countNonZero(mark->undo != 255), 0);
}

// ---- the halo of a frame's mark past its profile (remove/halo.h) ------------------------------

namespace {

// A luma plane of `background` with a white disc of radius `radius` at (cx, cy); `busy` lays dark
// strokes like printed text over the background first.
Frame disc_frame(int radius, int background, bool busy) {
  Frame f = blank_frame(160, 120, AV_PIX_FMT_YUV420P);
  for (int p = 0; p < 3; ++p) {
    PlaneView pv = f.plane(p);
    for (int y = 0; y < pv.height; ++y)
      for (int x = 0; x < pv.width; ++x) {
        int v = p ? 128 : background;
        if (p == 0 && busy && (y / 2) % 2 == 0 && (x / 3) % 5 != 0) v = 30;  // strokes and gaps
        if (p == 0 && std::hypot(x - 80.0, y - 60.0) <= radius) v = 230;
        pv.data[y * pv.stride + x] = uint8_t(v);
      }
  }
  return f;
}

// The canvas of a disc footprint of radius `radius` over `area`.
cv::Mat disc_canvas(const Box& area, int radius) {
  cv::Mat canvas = cv::Mat::zeros(area.h, area.w, CV_8U);
  cv::circle(canvas, {80 - area.x, 60 - area.y}, radius, cv::Scalar(255), cv::FILLED);
  return canvas;
}

}  // namespace

TEST(Halo, ReachesAMarkThatSwelledPastItsFootprint) {
  // The profile's disc has radius 14; this frame's mark swelled to 17 (Sora's cloud does).
  const Frame f = disc_frame(17, 150, false);
  const Box area{50, 30, 60, 60};
  cv::Mat canvas = disc_canvas(area, 14);
  const int added = grow_into_halo(f.plane(0), area, 230.f, canvas, canvas);
  EXPECT_GT(added, 200);  // the ring between radius 14 and 17: ~290 samples
  // Every sample of the swollen mark is now to be removed, and little beyond it.
  int missed = 0, beyond = 0;
  for (int y = 0; y < area.h; ++y)
    for (int x = 0; x < area.w; ++x) {
      const double r = std::hypot(area.x + x - 80.0, area.y + y - 60.0);
      const bool removed = canvas.at<uint8_t>(y, x) != 0;
      missed += r <= 17 && !removed;
      beyond += r > 19.5 && removed;
    }
  EXPECT_EQ(missed, 0);
  EXPECT_EQ(beyond, 0);
}

TEST(Halo, LeavesAMarkThatFitsAndABusyOrCloseBackgroundAlone) {
  const Box area{50, 30, 60, 60};
  {
    const Frame fits = disc_frame(14, 150, false);
    cv::Mat canvas = disc_canvas(area, 15);
    EXPECT_EQ(grow_into_halo(fits.plane(0), area, 230.f, canvas, canvas), 0);
  }
  {
    // Printed strokes around the footprint: the paper between them is as bright as a halo.
    const Frame busy = disc_frame(14, 215, true);
    cv::Mat canvas = disc_canvas(area, 15);
    EXPECT_EQ(grow_into_halo(busy.plane(0), area, 230.f, canvas, canvas), 0);
  }
  {
    // A background almost the mark's colour: whatever is left of a halo does not show.
    const Frame close = disc_frame(17, 205, false);
    cv::Mat canvas = disc_canvas(area, 14);
    EXPECT_EQ(grow_into_halo(close.plane(0), area, 230.f, canvas, canvas), 0);
  }
}

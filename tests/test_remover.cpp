#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "remove/remover.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace unmark;

namespace {

Frame random_frame(int w, int h, AVPixelFormat fmt, unsigned seed) {
  Frame f;
  f.av = make_av_frame();
  f.av->format = fmt;
  f.av->width = w;
  f.av->height = h;
  if (av_frame_get_buffer(f.av.get(), 0) < 0) throw std::runtime_error("alloc");
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

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "remove/inpaint_kernel.h"

using namespace unmark;

namespace {

template <class T>
std::vector<T> random_plane(int stride, int h, int max_value, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, max_value);
  std::vector<T> p(size_t(stride) * h);
  for (T& v : p) v = T(dist(rng));
  return p;
}

template <class T>
void run(std::vector<T>& p, int stride, int w, int h, Box box, int feather, int max_value) {
  if constexpr (sizeof(T) == 1)
    inpaint_box(p.data(), stride, w, h, box, feather);
  else
    inpaint_box(p.data(), stride * 2, w, h, box, feather, max_value);
}

// Outside the box nothing changes, bit for bit, also in the stride padding.
template <class T>
void expect_keep_invariant(int w, int h, int pad, Box box, int max_value) {
  const int stride = w + pad;
  auto plane = random_plane<T>(stride, h, max_value, unsigned(w * 131 + h * 7 + box.x));
  auto before = plane;
  run(plane, stride, w, h, box, 3, max_value);
  long changed_inside = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < stride; ++x) {
      size_t i = size_t(y) * stride + x;
      if (x < w && box.contains(x, y)) {
        changed_inside += plane[i] != before[i];
        ASSERT_LE(int(plane[i]), max_value);
      } else {
        ASSERT_EQ(plane[i], before[i]) << "changed outside the box at " << x << "," << y;
      }
    }
  }
  EXPECT_GT(changed_inside, box.area() / 4) << "the box was not filled";
}

}  // namespace

TEST(InpaintKernel, KeepsEverythingOutsideTheBox) {
  // Odd sizes and strides, boxes on every border and in the corners, one-pixel boxes.
  for (Box box : {Box{5, 7, 9, 4}, Box{0, 0, 6, 5}, Box{27, 13, 6, 6}, Box{0, 10, 33, 3},
                  Box{12, 0, 1, 19}, Box{16, 9, 1, 1}}) {
    expect_keep_invariant<uint8_t>(33, 19, 7, box, 255);
    expect_keep_invariant<uint16_t>(33, 19, 3, box, 1023);
  }
}

TEST(InpaintKernel, ConstantSurroundingGivesConstantFill) {
  const int w = 40, h = 30;
  std::vector<uint8_t> p(size_t(w) * h, 77);
  for (int y = 10; y < 20; ++y)
    for (int x = 12; x < 30; ++x) p[size_t(y) * w + x] = 250;  // the "mark"
  inpaint_box(p.data(), w, w, h, {12, 10, 18, 10}, 0);
  for (uint8_t v : p) ASSERT_EQ(v, 77);
}

TEST(InpaintKernel, LinearGradientIsContinued) {
  // A harmonic fill reproduces a linear ramp exactly, up to rounding and relaxation.
  const int w = 64, h = 48;
  std::vector<uint16_t> p(size_t(w) * h);
  auto ramp = [](int x, int y) { return 100 + 6 * x + 3 * y; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) p[size_t(y) * w + x] = uint16_t(ramp(x, y));
  Box box{20, 16, 16, 10};
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x) p[size_t(y) * w + x] = 1000;
  inpaint_box(p.data(), w * 2, w, h, box, 0, 1023);
  double worst = 0;
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x)
      worst = std::max(worst, std::abs(double(p[size_t(y) * w + x]) - ramp(x, y)));
  EXPECT_LT(worst, 12.0);  // of a 0..1023 range; the mark was ~600 off
}

TEST(InpaintKernel, FeatherBlendsTowardsTheOriginalAtTheEdge) {
  const int w = 40, h = 40;
  std::vector<uint8_t> p(size_t(w) * h, 50);
  Box box{10, 10, 20, 20};
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x) p[size_t(y) * w + x] = 200;
  inpaint_box(p.data(), w, w, h, box, 4);
  EXPECT_EQ(p[size_t(20) * w + 20], 50);                  // centre: pure fill
  EXPECT_GT(p[size_t(20) * w + 10], 50);                  // outermost column: partly original
  EXPECT_LT(p[size_t(20) * w + 10], 200);
  EXPECT_GT(p[size_t(20) * w + 10], p[size_t(20) * w + 12]);  // ramps towards the fill
}

TEST(InpaintKernel, WholePlaneBoxIsLeftAlone) {
  std::vector<uint8_t> p(100, 9);
  p[5] = 200;
  auto before = p;
  inpaint_box(p.data(), 10, 10, 10, {0, 0, 10, 10}, 2);
  EXPECT_EQ(p, before);
}

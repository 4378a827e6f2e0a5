#include "detect/blend_test.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace unmark {

namespace {

constexpr float kEdge = 0.08f;    // alpha step between neighbours that makes an edge worth judging
constexpr float kOpaque = 0.95f;  // above this, undoing the blend only amplifies noise
constexpr float kCap = 6.0f;      // residual cap, levels: beyond it a pair is the background's own edge

// One pair's capped squared residuals under both answers, for n placements along a row.
void accumulate(const float* __restrict a, const float* __restrict b, float ka, float kb, float k0, int n,
                float* __restrict l_none, float* __restrict l_blended) {
  constexpr float cap = kCap * kCap;
  for (int x = 0; x < n; ++x) {
    const float r_none = a[x] - b[x];
    const float r_blended = ka * a[x] - kb * b[x] + k0;
    const float e_none = r_none * r_none, e_blended = r_blended * r_blended;
    l_none[x] += e_none < cap ? e_none : cap;  // not std::min: its reference defeats vectorizing
    l_blended[x] += e_blended < cap ? e_blended : cap;
  }
}

}  // namespace

std::vector<AlphaEdge> translucent_edges(const cv::Mat& alpha) {
  CV_Assert(alpha.type() == CV_32F);
  std::vector<AlphaEdge> edges;
  auto add = [&](int ax, int ay, int bx, int by) {
    const float a = alpha.at<float>(ay, ax), b = alpha.at<float>(by, bx);
    if (std::abs(a - b) > kEdge && a < kOpaque && b < kOpaque) edges.push_back({ax, ay, bx, by});
  };
  for (int y = 0; y < alpha.rows; ++y)
    for (int x = 0; x < alpha.cols; ++x) {
      if (x + 1 < alpha.cols) add(x, y, x + 1, y);
      if (y + 1 < alpha.rows) add(x, y, x, y + 1);
    }
  return edges;
}

BlendTest::BlendTest(const cv::Mat& alpha, const cv::Mat& luma_colour) : size_(alpha.size()) {
  CV_Assert(alpha.type() == CV_32F && luma_colour.type() == CV_32F && alpha.size() == luma_colour.size());
  for (const AlphaEdge& e : translucent_edges(alpha)) {
    const float a = alpha.at<float>(e.ay, e.ax), b = alpha.at<float>(e.by, e.bx);
    // Residuals in observed levels: the blend undone divides by (1 - alpha), which would let the
    // more transparent side's noise count less than the other's.
    const float weight = 1.0f - std::max(a, b);
    const float ca = luma_colour.at<float>(e.ay, e.ax), cb = luma_colour.at<float>(e.by, e.bx);
    pairs_.push_back({e, weight / (1 - a), weight / (1 - b), weight * (-a * ca / (1 - a) + b * cb / (1 - b))});
  }
}

cv::Mat BlendTest::scores(const cv::Mat& image) const {
  CV_Assert(image.channels() == 1 && image.cols >= size_.width && image.rows >= size_.height);
  cv::Mat observed;
  if (image.depth() == CV_32F) observed = image;
  else image.convertTo(observed, CV_32F);
  const int nx = image.cols - size_.width + 1, ny = image.rows - size_.height + 1;
  cv::Mat none = cv::Mat::zeros(ny, nx, CV_32F), blended = cv::Mat::zeros(ny, nx, CV_32F);
  // Row by row, every pair into the same two accumulator rows (they stay in cache; the
  // observed rows a mark's height spans do too).
  for (int y = 0; y < ny; ++y) {
    float* l_none = none.ptr<float>(y);
    float* l_blended = blended.ptr<float>(y);
    for (const Pair& p : pairs_)
      accumulate(observed.ptr<float>(y + p.at.ay) + p.at.ax, observed.ptr<float>(y + p.at.by) + p.at.bx, p.ka, p.kb,
                 p.k0, nx, l_none, l_blended);
  }
  cv::Mat total = none + blended + 1e-6f, out;
  cv::divide(none - blended, total, out);
  return out;
}

void resize_for_blend_test(const cv::Mat& alpha, const cv::Mat& luma_colour, double scale, cv::Mat& alpha_out,
                           cv::Mat& luma_colour_out) {
  cv::Mat premultiplied = alpha.mul(luma_colour), small_premultiplied;
  cv::resize(alpha, alpha_out, {}, scale, scale, cv::INTER_AREA);
  cv::resize(premultiplied, small_premultiplied, alpha_out.size(), 0, 0, cv::INTER_AREA);
  cv::divide(small_premultiplied, cv::max(alpha_out, 1e-3f), luma_colour_out);
}

}  // namespace unmark

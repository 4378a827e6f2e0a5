#include "remove/halo.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "detect/plane_copy.h"

namespace unmark {

namespace {
constexpr float kHaloMin = 12.f;    // 8-bit levels toward the mark a sample must stand apart by
constexpr float kHaloShare = 0.2f; // ... or this share of the way to the mark's colour, if more
// Below this contrast between the mark and the background (8-bit levels) no halo is looked for:
// the background's own texture would pass the test as often, and a leftover halo that close to
// the background's colour does not show.
constexpr float kHaloContrast = 40.f;
constexpr int kHaloSpread = 32;  // 8-bit levels: the most the background's middle half may span
constexpr int kKnownMargin = 3;     // samples beyond the band that the background is judged by
}  // namespace

int grow_into_halo(const PlaneView& luma, const Box& area, float mark_luma, const cv::Mat& painted, cv::Mat& canvas) {
  CV_Assert(canvas.type() == CV_8U && canvas.size() == cv::Size(area.w, area.h) && painted.size() == canvas.size());
  // The work region: the area and a margin of known samples around it, in 8-bit levels.
  const Box work = area.grown(kKnownMargin).clipped(luma.width, luma.height);
  const cv::Mat observed = plane_8bit(luma, {work.x, work.y, work.w, work.h});
  const cv::Rect inner(area.x - work.x, area.y - work.y, area.w, area.h);
  cv::Mat removed = cv::Mat::zeros(work.h, work.w, CV_8U), seeds = removed.clone();
  canvas.copyTo(removed(inner));
  painted.copyTo(seeds(inner));
  // The band the halo may take (around what is painted), and beyond it the ring of known samples
  // the background is judged by: near each band sample, their median (a membrane across the
  // band would be pulled by strokes of text to a level between them and the paper, and the
  // paper would pass for halo).
  auto disc = [](int r) { return cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * r + 1, 2 * r + 1}); };
  cv::Mat band, beyond;
  cv::dilate(seeds, band, disc(kHaloReach));
  cv::dilate(seeds, beyond, disc(kHaloReach + kKnownMargin));
  beyond &= ~band & ~removed;
  band &= ~removed;
  cv::Mat restricted = cv::Mat::zeros(work.h, work.w, CV_8U);
  band(inner).copyTo(restricted(inner));  // the canvas holds the area only
  band = restricted;

  cv::Mat halo = cv::Mat::zeros(work.h, work.w, CV_8U);
  std::vector<uint8_t> near;
  constexpr int kWindow = kHaloReach + kKnownMargin + 2;
  for (int y = 0; y < work.h; ++y)
    for (int x = 0; x < work.w; ++x) {
      if (!band.at<uint8_t>(y, x)) continue;
      near.clear();
      // Every other sample each way: the background's statistics, at a quarter of the cost.
      for (int v = std::max(0, y - kWindow); v <= std::min(work.h - 1, y + kWindow); v += 2)
        for (int u = std::max(0, x - kWindow); u <= std::min(work.w - 1, x + kWindow); u += 2)
          if (beyond.at<uint8_t>(v, u)) near.push_back(observed.at<uint8_t>(v, u));
      if (near.size() < 8) continue;
      auto at_share = [&](size_t k) {
        std::nth_element(near.begin(), near.begin() + long(k), near.end());
        return int(near[k]);
      };
      const int median = at_share(near.size() / 2);
      // A busy background (text, foliage) has samples as bright as a halo of its own.
      if (at_share(near.size() * 3 / 4) - at_share(near.size() / 4) > kHaloSpread) continue;
      const float background = float(median), seen = observed.at<uint8_t>(y, x);
      const float way = mark_luma - background;  // from the background to the mark
      const float toward = way >= 0 ? seen - background : background - seen;
      if (std::abs(way) >= kHaloContrast && toward > std::max(kHaloMin, kHaloShare * std::abs(way)))
        halo.at<uint8_t>(y, x) = 255;
    }
  // Only what is connected to the footprint through such samples: a bright thing nearby that
  // does not touch the mark is scenery.
  cv::Mat grown = seeds.clone(), next;
  // Steps alternately along the axes and the diagonals: out to kHaloReach in every direction.
  const cv::Mat cross = cv::getStructuringElement(cv::MORPH_CROSS, {3, 3}),
                square = cv::getStructuringElement(cv::MORPH_RECT, {3, 3});
  for (int k = 0; k < kHaloReach; ++k) {
    cv::dilate(grown, next, k % 2 ? square : cross);
    next &= halo | seeds;
    if (cv::countNonZero(next != grown) == 0) break;
    grown = next;
  }
  // One sample more around what was added: the halo's own soft edge.
  cv::Mat added = grown & ~seeds & ~removed;
  const int count = cv::countNonZero(added);
  if (count == 0) return 0;
  cv::dilate(added, added, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  canvas |= added(inner);
  return count;
}

}  // namespace unmark

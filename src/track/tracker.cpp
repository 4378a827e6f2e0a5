#include "track/tracker.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace unmark {
namespace {

bool same_place(const Box& a, const Box& b) {
  return std::abs(a.x - b.x) <= std::max(4, a.w / 8) && std::abs(a.y - b.y) <= std::max(4, a.h / 4);
}

int median(std::vector<int> v) {
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

void Tracker::track(std::span<SegmentFrame> seg, Detector& detector, int emit) {
  const int n = int(seg.size());
  if (n == 0) return;
  if (emit < 0 || emit > n) emit = n;
  // Keep the strongest mark per frame.
  for (SegmentFrame& f : seg) {
    if (f.marks.size() > 1) {
      auto best = std::max_element(f.marks.begin(), f.marks.end(),
                                   [](const Mark& a, const Mark& b) { return a.confidence < b.confidence; });
      Mark keep = *best;
      f.marks = {keep};
    }
  }
  // Continue the previous segment's mark into this one.
  if (carried_ && seg[0].marks.empty())
    if (auto m = detector.verify(seg[0].frame, carried_->box)) seg[0].marks = {*m};

  // Extend runs forwards and backwards by verification around the neighbour's box.
  for (int i = 1; i < n; ++i)
    if (seg[size_t(i)].marks.empty() && !seg[size_t(i - 1)].marks.empty())
      if (auto m = detector.verify(seg[size_t(i)].frame, seg[size_t(i - 1)].marks[0].box))
        seg[size_t(i)].marks = {*m};
  for (int i = n - 2; i >= 0; --i)
    if (seg[size_t(i)].marks.empty() && !seg[size_t(i + 1)].marks.empty())
      if (auto m = detector.verify(seg[size_t(i)].frame, seg[size_t(i + 1)].marks[0].box))
        seg[size_t(i)].marks = {*m};

  // Runs: consecutive frames with a mark at the same place.
  struct Run { int first, last; };
  std::vector<Run> runs;
  for (int i = 0; i < n; ++i) {
    if (seg[size_t(i)].marks.empty()) continue;
    if (!runs.empty() && runs.back().last == i - 1 &&
        same_place(seg[size_t(i - 1)].marks[0].box, seg[size_t(i)].marks[0].box))
      runs.back().last = i;
    else
      runs.push_back({i, i});
  }

  // Fill short gaps between runs at the same place (never across a jump).
  for (size_t r = 0; r + 1 < runs.size(); ++r) {
    const Mark& before = seg[size_t(runs[r].last)].marks[0];
    const Mark& after = seg[size_t(runs[r + 1].first)].marks[0];
    int gap = runs[r + 1].first - runs[r].last - 1;
    if (gap <= 0 || gap > opt_.max_gap || !same_place(before.box, after.box)) continue;
    for (int i = runs[r].last + 1; i < runs[r + 1].first; ++i)
      seg[size_t(i)].marks = {Mark{before.box, 0.5f * std::min(before.confidence, after.confidence), before.appearance}};
    runs[r + 1].first = runs[r].first;
    runs[r].last = -1;  // merged into the next
  }

  // Hold each run still at its median box when it only jitters; snap onto the carried box when
  // the run continues it, so segment boundaries do not jitter either.
  for (const Run& run : runs) {
    if (run.last < 0) continue;
    std::vector<int> xs, ys;
    for (int i = run.first; i <= run.last; ++i) {
      xs.push_back(seg[size_t(i)].marks[0].box.x);
      ys.push_back(seg[size_t(i)].marks[0].box.y);
    }
    int mx = median(xs), my = median(ys);
    // Steady when nearly all of the run sits within the jitter of its median. The few frames that
    // do not keep their own box: the mark moved there (Sora's slides down 1, 4, then 13 pixels
    // in the frames before it jumps; held at the median, its lower edge stayed in the output).
    size_t within = 0;
    for (size_t k = 0; k < xs.size(); ++k)
      within += std::abs(xs[k] - mx) <= opt_.jitter && std::abs(ys[k] - my) <= opt_.jitter;
    if (within * 5 < xs.size() * 4) continue;  // under 80%: the mark really moves; leave it
    Box still = seg[size_t(run.first)].marks[0].box;
    still.x = mx;
    still.y = my;
    if (run.first == 0 && carried_ && std::abs(carried_->box.x - mx) <= opt_.jitter &&
        std::abs(carried_->box.y - my) <= opt_.jitter)
      still = carried_->box;
    for (int i = run.first; i <= run.last; ++i) {
      Box& box = seg[size_t(i)].marks[0].box;
      if (std::abs(box.x - mx) <= opt_.jitter && std::abs(box.y - my) <= opt_.jitter) box = still;
    }
  }

  carried_.reset();
  if (!seg[size_t(emit - 1)].marks.empty()) carried_ = seg[size_t(emit - 1)].marks[0];
}

std::vector<SegmentFrame> SegmentAssembler::take(int count) {
  tracker_.track(held_, detector_, count);
  std::vector<SegmentFrame> out(std::make_move_iterator(held_.begin()),
                                std::make_move_iterator(held_.begin() + count));
  held_.erase(held_.begin(), held_.begin() + count);
  // What stays was lookahead: tracked again with the next segment, which only adds context.
  return out;
}

std::vector<SegmentFrame> SegmentAssembler::push(SegmentFrame frame) {
  held_.push_back(std::move(frame));
  const int size = std::min(segment_, next_segment_);
  if (int(held_.size()) < size + lookahead()) return {};
  next_segment_ = std::min(segment_, next_segment_ * 2);
  return take(size);
}

std::vector<SegmentFrame> SegmentAssembler::finish() {
  if (held_.empty()) return {};
  return take(int(held_.size()));
}

}  // namespace unmark

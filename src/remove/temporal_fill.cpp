// Temporal fill (see temporal_fill.h).
//
// For a frame's holes, the frames of the window are tried nearest in time first. Each is aligned
// to the frame on what the frame shows around (and inside) the mark's area: the samples outside
// the holes, within kRing of the area, which includes what reverse alpha blending recovered under
// a translucent mark. A shift of zero is tried first (a camera that holds still: the usual case,
// and cheap); a few sources also get a search over +-kSearch luma samples (a camera or a subject
// that moves). A source is used only where it agrees with the frame there to within kAgree levels
// on average: a scene that changed under the area (a hand passing) fails, and the next frame is
// tried. Its samples fill what its own marks do not hide, raised or lowered by the mean difference
// around the area (light that changed between the two). What no source saw is left for spatial
// inpainting. Everything is done on the area's crop; no frame is converted.
//
// follow() is for what no shifted frame shows: a static mark over a scene that moves (hair
// under a badge, a camera panning under a channel logo). The scene's motion around the mark is
// measured between each pair of neighbouring frames (SceneFlow, which leaves the marks out and
// carries the motion across them) and each block of hidden samples is moved along it, frame by
// frame, until it comes out from under every mark; there its samples are read (bilinear). Motion
// that does not lead back (the motion back from where it went misses by more than kRoundTrip)
// ends the trail: something covered or uncovered that spot. Trails run both ways in time and
// the two finds are averaged, the nearer weighing more; the measured motion is cached per pair
// of frames, so a static mark costs two motion fields per frame.
#include "remove/temporal_fill.h"

#include "remove/inpaint_remover.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>

namespace unmark {

struct FrameWindow::Source {
  const Frame* frame;
  const std::vector<Cover>* covered;  // what its marks hide
  int64_t index;
};
using Source = FrameWindow::Source;

int PlaneHoles::count() const {
  return int(std::count_if(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; }));
}

namespace {

constexpr int kRing = 10;            // luma samples around the area that align a source
constexpr int kSearch = 12;          // motion searched within +-kSearch luma samples
constexpr double kAgree = 5.0;       // mean |difference| (8-bit levels) for a source to be used
constexpr double kMinShown = 0.5;    // share of the aligning samples a source must show
constexpr int kMaxSearched = 6;      // sources given the full motion search, per mark
constexpr int kMaxTried = 64;        // sources looked at, per mark
constexpr double kMaxShownOfHidden = 0.1;  // share of the holes a source may show and still be skipped
constexpr int kMaxSteps = 40;        // frames followed each way in time
constexpr int kMinFollowMargin = 24; // luma samples around the area over which motion is measured
constexpr double kRoundTrip = 0.5;   // luma samples a motion and the one back may miss by


int get(const PlaneView& p, int x, int y) {
  if (p.wide()) return reinterpret_cast<const uint16_t*>(p.data + y * p.stride)[x];
  return p.data[y * p.stride + x];
}

void put(const PlaneView& p, int x, int y, int v) {
  v = std::clamp(v, 0, p.max_value());
  if (p.wide()) reinterpret_cast<uint16_t*>(p.data + y * p.stride)[x] = uint16_t(v);
  else p.data[y * p.stride + x] = uint8_t(v);
}

struct Known {
  int x, y;  // luma
};

struct Agreement {
  double mean = 1e9;  // mean |difference|, 8-bit levels
  size_t shown = 0;   // aligning samples the source shows
};

// How well `src` shifted by (dx, dy) matches the frame on `known` (every `step`-th one).
Agreement agreement(const PlaneView& fy, const PlaneView& gy, const std::vector<Known>& known, const Source& src,
                    int dx, int dy, size_t step) {
  Agreement a;
  double sum = 0;
  for (size_t i = 0; i < known.size(); i += step) {
    const int x = known[i].x + dx, y = known[i].y + dy;
    if (x < 0 || y < 0 || x >= gy.width || y >= gy.height || hidden(*src.covered, x, y)) continue;
    sum += std::abs(get(fy, known[i].x, known[i].y) - get(gy, x, y));
    ++a.shown;
  }
  if (a.shown) a.mean = sum / double(a.shown) / double(1 << (fy.bit_depth - 8));
  return a;
}

// The motion search's view of one source: its luma over the aligning samples' box grown by
// kSearch, in one array with -1 where the source's marks hide a sample or the frame ends, and
// the aligning samples as offsets into it. A shift's agreement is then one read per sample
// (the search tries 178 shifts per source; agreement() pays bounds, cover and plane-format
// tests on every read). Same result as agreement() for every shift within +-kSearch.
class ShiftedSource {
 public:
  ShiftedSource(const PlaneView& fy, const PlaneView& gy, const std::vector<Known>& known, const Box& ring,
                const std::vector<Cover>& covered)
      : origin_x_(ring.x - kSearch), origin_y_(ring.y - kSearch), width_(ring.w + 2 * kSearch),
        levels_(double(1 << (fy.bit_depth - 8))) {
    const int height = ring.h + 2 * kSearch;
    source_.assign(size_t(width_) * size_t(height), -1);
    const Box inside = Box{origin_x_, origin_y_, width_, height}.clipped(gy.width, gy.height);
    for (int y = inside.y; y < inside.bottom(); ++y) {
      int* row = source_.data() + size_t(y - origin_y_) * size_t(width_) - origin_x_;
      for (int x = inside.x; x < inside.right(); ++x) row[x] = get(gy, x, y);
    }
    for (const Cover& c : covered) {
      const Box hit = c.box.clipped(gy.width, gy.height);
      for (int y = std::max(hit.y, origin_y_); y < std::min(hit.bottom(), origin_y_ + height); ++y)
        for (int x = std::max(hit.x, origin_x_); x < std::min(hit.right(), origin_x_ + width_); ++x)
          if (c.hides(x, y)) source_[size_t(y - origin_y_) * size_t(width_) + size_t(x - origin_x_)] = -1;
    }
    frame_.reserve(known.size());
    offset_.reserve(known.size());
    for (const Known& k : known) {
      frame_.push_back(get(fy, k.x, k.y));
      offset_.push_back((k.y - origin_y_) * width_ + (k.x - origin_x_));
    }
  }

  Agreement agreement(int dx, int dy, size_t step) const {
    Agreement a;
    const int* shifted = source_.data() + dy * width_ + dx;
    int64_t sum = 0;
    size_t shown = 0;
    for (size_t i = 0; i < offset_.size(); i += step) {
      const int v = shifted[offset_[i]];
      if (v < 0) continue;
      sum += std::abs(frame_[i] - v);
      ++shown;
    }
    a.shown = shown;
    if (shown) a.mean = double(sum) / double(shown) / levels_;
    return a;
  }

 private:
  int origin_x_, origin_y_, width_;
  double levels_;
  std::vector<int> source_;  // luma around the area, -1: hidden or outside the frame
  std::vector<int> frame_;   // the frame's luma at each aligning sample
  std::vector<int> offset_;  // each aligning sample's place in source_
};

// True when `src` shifted by (dx, dy) matches the frame within kAgree on average over the luma
// holes it shows (every other sample each way).
bool shows_the_same(const PlaneView& fy, const PlaneView& gy, const PlaneHoles& luma, const Source& src, int dx,
                    int dy) {
  double sum = 0;
  size_t n = 0;
  for (int y = 0; y < luma.box.h; y += 2)
    for (int x = 0; x < luma.box.w; x += 2) {
      if (!luma.mask[size_t(y) * luma.box.w + x]) continue;
      const int fx = luma.box.x + x, fyy = luma.box.y + y, gx = fx + dx, gyy = fyy + dy;
      if (gx < 0 || gyy < 0 || gx >= gy.width || gyy >= gy.height || hidden(*src.covered, gx, gyy)) continue;
      sum += std::abs(get(fy, fx, fyy) - get(gy, gx, gyy));
      ++n;
    }
  return n > 0 && sum / double(n) / double(1 << (fy.bit_depth - 8)) < kAgree;
}

}  // namespace

struct FrameWindow::Held {
  Frame frame;
  std::vector<Cover> covered;
};

FrameWindow::FrameWindow(int history_frames, int margin)
    : history_frames_(std::max(0, history_frames)), margin_(std::max(0, margin)) {}

FrameWindow::~FrameWindow() = default;

namespace {
std::vector<Cover> covered_by(const std::vector<Mark>& marks, int margin) {
  std::vector<Cover> out;
  for (const Mark& m : marks) out.push_back(removal_cover(m, margin));
  return out;
}
}  // namespace

void FrameWindow::begin(std::span<SegmentFrame> segment) {
  segment_ = segment;
  segment_covered_.clear();
  for (const SegmentFrame& sf : segment_) segment_covered_.push_back(covered_by(sf.marks, margin_));
}

void FrameWindow::end() {
  if (history_frames_ > 0) {
    for (SegmentFrame& sf : segment_) {
      Held h;
      h.frame.av.reset(av_frame_clone(sf.frame.av.get()));
      if (!h.frame.av) throw std::bad_alloc();
      h.frame.index = sf.frame.index;
      h.covered = segment_covered_[size_t(&sf - segment_.data())];
      history_.push_back(std::move(h));
    }
    if (int(history_.size()) > history_frames_)
      history_.erase(history_.begin(), history_.end() - history_frames_);
  }
  // Motion to or from frames that have left the window is not wanted again.
  const int64_t oldest = !history_.empty() ? history_.front().frame.index
                         : !segment_.empty() ? segment_.back().frame.index + 1
                                             : 0;
  std::erase_if(flows_, [&](const auto& kv) { return std::min(std::get<0>(kv.first), std::get<1>(kv.first)) < oldest; });
  segment_ = {};
  segment_covered_.clear();
}

std::vector<FrameWindow::Source> FrameWindow::in_time_order() const {
  std::vector<Source> frames;
  for (const Held& h : history_) frames.push_back({&h.frame, &h.covered, h.frame.index});
  for (size_t i = 0; i < segment_.size(); ++i)
    frames.push_back({&segment_[i].frame, &segment_covered_[i], segment_[i].frame.index});
  return frames;
}

int FrameWindow::fill(size_t at, const Box& area, std::vector<PlaneHoles>& holes) {
  SegmentFrame& target = segment_[at];
  const Frame& f = target.frame;
  if (holes.empty() || int(holes.size()) > f.plane_count()) return 0;
  const PlaneView fy = f.plane(0);

  if (std::all_of(holes.begin(), holes.end(), [](const PlaneHoles& h) { return h.count() == 0; })) return 0;
  stats_.hidden += holes[0].count();

  // The samples that align a source: around and inside the area, outside the holes and outside
  // the frame's other marks, every other one each way.
  std::vector<Cover> others;
  for (size_t m = 0; m < target.marks.size(); ++m)
    if (!target.marks[m].box.grown(margin_).contains(area.x + area.w / 2, area.y + area.h / 2))
      others.push_back(segment_covered_[at][m]);
  const Box ring = area.grown(kRing).clipped(fy.width, fy.height);
  std::vector<Known> known;
  for (int y = ring.y; y < ring.bottom(); y += 2)
    for (int x = ring.x; x < ring.right(); x += 2)
      if (!holes[0].unknown(x, y) && !hidden(others, x, y)) known.push_back({x, y});
  if (known.size() < 16) return 0;  // nothing around to align with (a mark over most of the frame)

  // True when `covers` hide nearly every luma hole (every other one each way): a source with its
  // mark where this frame's is shows at most a few samples of a halo around it, its own halo.
  auto hides_the_holes = [&](const std::vector<Cover>& covers) {
    const PlaneHoles& h = holes[0];
    size_t holes_seen = 0, shown = 0;
    for (int y = 0; y < h.box.h; y += 2)
      for (int x = 0; x < h.box.w; x += 2)
        if (h.mask[size_t(y) * h.box.w + x]) {
          ++holes_seen;
          shown += !hidden(covers, h.box.x + x, h.box.y + y);
        }
    return double(shown) <= kMaxShownOfHidden * double(holes_seen);
  };

  // The other frames of the window, nearest in time first.
  std::vector<Source> sources = in_time_order();
  sources.erase(sources.begin() + long(history_.size() + at));
  const int64_t now = f.index;
  std::stable_sort(sources.begin(), sources.end(), [&](const Source& a, const Source& b) {
    return std::llabs(a.index - now) < std::llabs(b.index - now);
  });

  int searched = 0, tried = 0, filled_luma = 0;
  for (const Source& src : sources) {
    if (tried >= kMaxTried) break;
    if (src.frame->width() != f.width() || src.frame->height() != f.height() ||
        src.frame->av->format != f.av->format)
      continue;
    // A source whose own mark hides (nearly) all of the holes where they are shows nothing of
    // them at the shifts that matter (motion much smaller than the mark): skipped before any work.
    if (hides_the_holes(*src.covered)) continue;
    ++tried;
    const PlaneView gy = src.frame->plane(0);
    const size_t needed = size_t(double(known.size()) * kMinShown);
    int dx = 0, dy = 0;
    Agreement best = agreement(fy, gy, known, src, 0, 0, 1);
    if (best.shown < needed) best.mean = 1e9;
    if (best.mean > kAgree) {
      if (searched >= kMaxSearched) continue;
      ++searched;
      const ShiftedSource shifted(fy, gy, known, ring, *src.covered);
      // Coarse to fine: every 2nd shift on every 4th aligning sample, then the shifts around the
      // best on every other one; the winner is scored on all of them.
      auto search = [&](int cx, int cy, int radius, int stride, size_t step) {
        double best_mean = 1e9;
        int bx = cx, by = cy;
        for (int sy = cy - radius; sy <= cy + radius; sy += stride)
          for (int sx = cx - radius; sx <= cx + radius; sx += stride) {
            if (std::abs(sx) > kSearch || std::abs(sy) > kSearch) continue;
            Agreement a = shifted.agreement(sx, sy, step);
            if (a.shown * step < needed) continue;
            const double penalised = a.mean * (1.0 + 0.01 * (std::abs(sx) + std::abs(sy)));  // ties: less motion
            if (penalised < best_mean) {
              best_mean = penalised;
              bx = sx;
              by = sy;
            }
          }
        dx = bx;
        dy = by;
      };
      search(0, 0, kSearch, 2, 4);
      search(dx, dy, 1, 1, 2);
      best = shifted.agreement(dx, dy, 1);
      if (best.shown < needed || best.mean > kAgree) continue;
    }

    // A source that shows what the frame shows in the holes shows the mark too (one the detector
    // missed there, or a region the user's time range left out): not a view of what is under it.
    if (shows_the_same(fy, gy, holes[0], src, dx, dy)) continue;

    // Take what it shows, plane by plane, with the light's offset measured around the area.
    bool left = false;
    for (size_t p = 0; p < holes.size(); ++p) {
      const PlaneView fp = f.plane(int(p)), gp = src.frame->plane(int(p));
      const int sx = fp.shift_x, sy = fp.shift_y;
      const int pdx = int(std::lround(double(dx) / (1 << sx))), pdy = int(std::lround(double(dy) / (1 << sy)));
      double diff = 0;
      size_t n = 0;
      for (const Known& k : known) {
        const int lx = k.x + dx, ly = k.y + dy;
        if (lx < 0 || ly < 0 || lx >= fy.width || ly >= fy.height || hidden(*src.covered, lx, ly)) continue;
        if (p > 0 && holes[p].unknown(k.x >> sx, k.y >> sy)) continue;
        const int qx = (k.x >> sx) + pdx, qy = (k.y >> sy) + pdy;
        if (qx < 0 || qy < 0 || qx >= gp.width || qy >= gp.height) continue;
        diff += get(fp, k.x >> sx, k.y >> sy) - get(gp, qx, qy);
        ++n;
      }
      const int offset = n ? int(std::lround(diff / double(n))) : 0;
      PlaneHoles& h = holes[p];
      for (int y = 0; y < h.box.h; ++y)
        for (int x = 0; x < h.box.w; ++x) {
          uint8_t& m = h.mask[size_t(y) * h.box.w + x];
          if (!m) continue;
          const int fx = h.box.x + x, fyy = h.box.y + y;
          // The luma samples this one covers, where the source shows them.
          const int lx = (fx << sx) + dx, ly = (fyy << sy) + dy;
          const int lx_end = lx + (1 << sx) - 1, ly_end = ly + (1 << sy) - 1;
          const int qx = fx + pdx, qy = fyy + pdy;
          if (lx < 0 || ly < 0 || lx_end >= fy.width || ly_end >= fy.height || qx < 0 || qy < 0 ||
              qx >= gp.width || qy >= gp.height || hidden(*src.covered, lx, ly) ||
              hidden(*src.covered, lx_end, ly_end)) {
            left = true;
            continue;
          }
          put(fp, fx, fyy, get(gp, qx, qy) + offset);
          m = 0;
          if (p == 0) ++filled_luma;
        }
    }
    if (!left) break;
  }
  stats_.filled += filled_luma;
  return filled_luma;
}

namespace {

// A block of hidden samples followed through the frames together: the luma samples one chroma
// sample covers (2x2 in 4:2:0) and that chroma sample, which move as one at the motion field's
// scale. `x`, `y` is where the block's centre has got to (luma samples, floating).
struct Trail {
  int bx, by;            // the block's top-left luma sample
  float start_x, start_y;
  float x = 0, y = 0;
  unsigned luma_hidden = 0;  // bit per luma sample of the block (row major) that is a hole
  unsigned luma_left = 0;    // ... and not found yet this way
  bool moving = false, chroma_found = false;
};

// Bilinear sample of a plane at plane coordinates, in the plane's levels.
float sample_plane(const PlaneView& p, float x, float y) {
  x = std::clamp(x, 0.f, float(p.width - 1));
  y = std::clamp(y, 0.f, float(p.height - 1));
  const int x0 = std::min(int(x), std::max(0, p.width - 2)), y0 = std::min(int(y), std::max(0, p.height - 2));
  const int x1 = std::min(x0 + 1, p.width - 1), y1 = std::min(y0 + 1, p.height - 1);
  const float fx = x - float(x0), fy = y - float(y0);
  const float top = float(get(p, x0, y0)) + fx * float(get(p, x1, y0) - get(p, x0, y0));
  const float bottom = float(get(p, x0, y1)) + fx * float(get(p, x1, y1) - get(p, x0, y1));
  return top + fy * (bottom - top);
}

// What one way of following found for one hidden sample.
struct Found {
  float value = 0;
  int step = 0;  // frames away (0: nothing)
};

}  // namespace

const std::optional<SceneFlow>& FrameWindow::flow_between(const Frame& from, const std::vector<Cover>& from_covered,
                                                          const Frame& to, const std::vector<Cover>& to_covered,
                                                          const Box& crop) {
  const FlowKey key{from.index, to.index, crop.x, crop.y, crop.w, crop.h};
  auto it = flows_.find(key);
  if (it == flows_.end())
    it = flows_.emplace(key, SceneFlow::measure(from.plane(0), to.plane(0), crop, from_covered, to_covered)).first;
  return it->second;
}

int FrameWindow::follow(size_t at, const Box& area, std::vector<PlaneHoles>& holes) {
  SegmentFrame& target = segment_[at];
  const Frame& f = target.frame;
  const int planes = int(holes.size());
  if (planes == 0 || planes > f.plane_count()) return 0;

  // The frames in time order, and where this one is among them.
  const std::vector<Source> timeline = in_time_order();
  const long here = long(history_.size() + at);

  // Blocks holding any hidden sample, on the chroma grid (luma samples where there is none).
  const PlaneView fy = f.plane(0);
  const int bw = planes > 1 ? 1 << f.plane(1).shift_x : 1, bh = planes > 1 ? 1 << f.plane(1).shift_y : 1;
  auto hole = [&](int p, int x, int y) { return holes[size_t(p)].unknown(x, y); };
  const bool small_blocks = bw <= 2 && bh <= 2;  // every sample of a block within one of its centre
  std::vector<Trail> trails;
  {
    const Box luma = holes[0].box;
    Box blocks = luma;
    for (int p = 1; p < planes; ++p) {
      const PlaneView pv = f.plane(p);
      const Box c{holes[size_t(p)].box.x << pv.shift_x, holes[size_t(p)].box.y << pv.shift_y,
                  holes[size_t(p)].box.w << pv.shift_x, holes[size_t(p)].box.h << pv.shift_y};
      const int x0 = std::min(blocks.x, c.x), y0 = std::min(blocks.y, c.y);
      blocks = {x0, y0, std::max(blocks.right(), c.right()) - x0, std::max(blocks.bottom(), c.bottom()) - y0};
    }
    for (int by = blocks.y / bh * bh; by < blocks.bottom(); by += bh)
      for (int bx = blocks.x / bw * bw; bx < blocks.right(); bx += bw) {
        bool any = false;
        for (int y = by; y < by + bh && !any; ++y)
          for (int x = bx; x < bx + bw && !any; ++x) any = hole(0, x, y);
        for (int p = 1; p < planes && !any; ++p) any = hole(p, bx / bw, by / bh);
        if (!any) continue;
        const float cx = float(bx) + 0.5f * float(bw - 1), cy = float(by) + 0.5f * float(bh - 1);
        Trail t{bx, by, cx, cy};
        for (int y = by, bit = 0; y < by + bh; ++y)
          for (int x = bx; x < bx + bw; ++x, ++bit)
            if (hole(0, x, y)) t.luma_hidden |= 1u << bit;
        trails.push_back(t);
      }
  }
  if (trails.empty()) return 0;

  // What each hidden sample was found to be, each way: per plane, over its holes' box.
  std::vector<std::vector<Found>> found[2];
  for (auto& way : found)
    for (int p = 0; p < planes; ++p) way.emplace_back(holes[size_t(p)].mask.size());

  const int margin = std::max(kMinFollowMargin, std::min(area.w, area.h) / 2);
  const Box crop = area.grown(margin).clipped(f.width(), f.height());
  const Box reach = crop.grown(margin);
  const double level = double(1 << (fy.bit_depth - 8));
  for (int way = 0; way < 2; ++way) {
    const int dir = way == 0 ? -1 : 1;
    for (Trail& t : trails) {
      t.x = t.start_x;
      t.y = t.start_y;
      t.moving = true;
      t.luma_left = t.luma_hidden;
      t.chroma_found = planes == 1;
    }
    long prev = here;
    for (int k = 1; k <= kMaxSteps; ++k) {
      const long cur = here + dir * k;
      if (cur < 0 || cur >= long(timeline.size())) break;
      const Source& a = timeline[size_t(prev)];
      const Source& b = timeline[size_t(cur)];
      if (b.frame->width() != f.width() || b.frame->height() != f.height() || b.frame->av->format != f.av->format ||
          b.index - a.index != dir)
        break;
      const std::optional<SceneFlow>& ahead = flow_between(*a.frame, *a.covered, *b.frame, *b.covered, crop);
      const std::optional<SceneFlow>& back = flow_between(*b.frame, *b.covered, *a.frame, *a.covered, crop);
      if (!ahead || !back) break;  // a cut, or nothing to go by: nothing further that way
      PlaneView bp[4];
      for (int p = 0; p < planes; ++p) bp[p] = b.frame->plane(p);
      bool any = false;
      double differ = 0;
      size_t compared = 0, luma_moving = 0;
      std::vector<std::pair<int, size_t>> found_here;  // (plane, sample) found in this frame
      for (Trail& t : trails) {
        if (!t.moving) continue;
        const SceneFlow::Motion m = ahead->at(t.x, t.y);
        t.x += m.dx;
        t.y += m.dy;
        const int px = int(std::floor(t.x)), py = int(std::floor(t.y));
        // Still under a mark where the centre is: every read of the block's samples (they lie
        // within a sample of it) takes that sample, so none can be taken yet. The motion there
        // is filled in, so checking the way back tells nothing either.
        if (small_blocks && hidden(*b.covered, px, py)) {
          any = true;
          luma_moving += size_t(std::popcount(t.luma_left));
          continue;
        }
        // The way back must lead back: where it does not, the scene there was covered or
        // uncovered between the two frames (a hand passing), and the trail ends.
        const SceneFlow::Motion r = back->at(t.x, t.y);
        const float miss = (m.dx + r.dx) * (m.dx + r.dx) + (m.dy + r.dy) * (m.dy + r.dy);
        const float allowed = kRoundTrip + 0.1f * std::sqrt(m.dx * m.dx + m.dy * m.dy);
        if (miss > allowed * allowed || !reach.contains(px, py)) {
          t.moving = false;
          continue;
        }
        // The block's samples, moved as its centre did, are taken once all that a bilinear read
        // of them takes is clear of every mark in this frame: luma and chroma each on its own.
        const float dx = t.x - t.start_x, dy = t.y - t.start_y;
        for (int y = t.by, bit = 0; y < t.by + bh; ++y)
          for (int x = t.bx; x < t.bx + bw; ++x, ++bit) {
            if (!(t.luma_left >> bit & 1)) continue;
            const float sx = float(x) + dx, sy = float(y) + dy;
            const Box support{int(std::floor(sx)), int(std::floor(sy)), 2, 2};
            if (!support.inside(f.width(), f.height()) || touches(*b.covered, support)) {
              ++luma_moving;
              continue;
            }
            t.luma_left &= ~(1u << bit);
            const PlaneHoles& h = holes[0];
            const size_t i = size_t(y - h.box.y) * h.box.w + (x - h.box.x);
            const float v = sample_plane(bp[0], sx, sy);
            found[way][0][i] = {v, k};
            found_here.push_back({0, i});
            differ += std::abs(double(v) - double(get(fy, x, y)));
            ++compared;
          }
        if (!t.chroma_found) {
          const float px = (t.x + 0.5f) / float(bw) - 0.5f, py = (t.y + 0.5f) / float(bh) - 0.5f;
          const Box support{int(std::floor(px)) * bw, int(std::floor(py)) * bh, 2 * bw, 2 * bh};
          if (support.inside(f.width(), f.height()) && !touches(*b.covered, support)) {
            t.chroma_found = true;
            for (int p = 1; p < planes; ++p) {
              const int cx = t.bx / bw, cy = t.by / bh;
              if (!hole(p, cx, cy)) continue;
              const PlaneHoles& h = holes[size_t(p)];
              const size_t i = size_t(cy - h.box.y) * h.box.w + (cx - h.box.x);
              found[way][size_t(p)][i] = {sample_plane(bp[p], px, py), k};
              found_here.push_back({p, i});
            }
          }
        }
        t.moving = t.luma_left != 0 || !t.chroma_found;
        any |= t.moving;
      }
      // Most of what was still hidden comes out at once and matches what the holes show: the
      // mark is there too (missed by the detector, or outside a region's time range), not a view
      // of the scene. (Samples that come out one by one at the edge of a moving scene match them
      // where the holes reach past the mark: not a sign of it.)
      if (compared >= 16 && compared >= luma_moving && differ / double(compared) / level < kAgree)
        for (auto [p, i] : found_here) found[way][size_t(p)][i].step = 0;
      if (!any) break;
      prev = cur;
    }
  }

  // Both ways averaged, the nearer in time weighing more.
  int filled_luma = 0;
  for (int p = 0; p < planes; ++p) {
    PlaneHoles& h = holes[size_t(p)];
    const PlaneView pv = f.plane(p);
    for (size_t i = 0; i < h.mask.size(); ++i) {
      if (!h.mask[i]) continue;
      const Found& back = found[0][size_t(p)][i];
      const Found& ahead = found[1][size_t(p)][i];
      double sum = 0, weight = 0;
      for (const Found* w : {&back, &ahead})
        if (w->step > 0) {
          sum += double(w->value) / w->step;
          weight += 1.0 / w->step;
        }
      if (weight <= 0) continue;
      put(pv, h.box.x + int(i % size_t(h.box.w)), h.box.y + int(i / size_t(h.box.w)), int(std::lround(sum / weight)));
      h.mask[i] = 0;
      if (p == 0) ++filled_luma;
    }
  }
  stats_.filled += filled_luma;
  stats_.followed += filled_luma;
  return filled_luma;
}

}  // namespace unmark

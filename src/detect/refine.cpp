// Refining a profile on one video (see refine.h for why).
//
// Per pixel of the mark's box (grown, so that a partial profile's missing part is measured too),
// each jump pair gives what was seen with the mark, o, and the background under it, b:
// o = alpha * colour + (1 - alpha) * b, a line of slope 1 - alpha. A pair is the frame where the
// mark arrives at a spot against the nearest earlier frame where that spot is clear (the next two
// frames of the mark too), and the last frames before it leaves against the first clear one after.
// The clear frame is aligned first: shifted (+-3 px) to match the marked one on the band around
// the mark, undoing a frame or two of motion; what is left of the difference on that band weighs
// the pair, and the fit is robust besides (Huber weights), so a pair spoilt by motion counts for
// little. The colour's fit also allows for the clear frame's own error (blend_fit.h). The mark
// is taken to be one colour (white, grey, black: nearly every overlay), measured where it is
// strong; alpha is then one unknown per pixel, which a handful of pairs pins down (two unknowns
// per pixel would not be). A mark of several colours gets their median, which matters only where
// it is translucent: opaque parts are inpainted.
// Everything is done on crops; no frame is converted whole.
#include "detect/refine.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include <opencv2/imgproc.hpp>

#include "core/log.h"
#include "detect/blend_fit.h"
#include "detect/detector.h"
#include "detect/match.h"
#include "detect/plane_copy.h"
#include "io/frame_reader.h"
#include "remove/inpaint_kernel.h"

namespace unmark {
namespace {

constexpr int kRing = 8;              // frames kept to look back from an arrival
constexpr double kClear = 0.25;       // template correlation below which a spot is clear of the mark
constexpr int kConfirm = 3;           // frames a spot must stay free of the mark after it leaves
constexpr double kPairSignature = 0.3;  // correlation of a pair's difference with the mark's template
constexpr double kGlyphPairSignature = 0.6;  // ... with a glyph found alone (split_sides)
constexpr double kUndoLimit = 0.6;    // the remover inpaints at or above this alpha anyway
constexpr double kNoiseFloor = 4.0;   // levels^2: a pair's mismatch never counts as less than this

// A frame's planes, 8-bit, chroma at its own resolution. 8-bit planes are viewed in place, the
// frame's buffers held by a reference (a decoder never writes into a buffer it has handed out, and
// copying a whole 1080p frame for every frame seen cost as much as finding the mark in it); wider
// samples are scaled down into copies.
struct Planes {
  std::shared_ptr<AVFrame> held;  // keeps the viewed buffers alive
  cv::Mat y, u, v;
  int sx = 1, sy = 1;
};

cv::Mat plane_8bit(const PlaneView& plane) { return plane_8bit(plane, {0, 0, plane.width, plane.height}); }

Planes view_planes(const Frame& f) {
  Planes p;
  p.held.reset(av_frame_clone(f.av.get()), [](AVFrame* a) { av_frame_free(&a); });
  if (!p.held) throw std::bad_alloc();
  p.y = plane_8bit(f.plane(0));
  if (f.plane_count() == 3) {
    PlaneView u = f.plane(1);
    p.u = plane_8bit(u);
    p.v = plane_8bit(f.plane(2));
    p.sx = u.shift_x;
    p.sy = u.shift_y;
  } else {
    p.u = cv::Mat(p.y.size(), CV_8U, cv::Scalar(128));
    p.v = p.u.clone();
    p.sx = p.sy = 0;
  }
  return p;
}

// Y, U, V of `r` at luma resolution (chroma interpolated bilinearly), CV_8UC3. Where `r` leaves
// the frame its edge is repeated (a grown box near the frame's edge: both frames of a pair repeat
// the same edge, which measures as no mark).
cv::Mat crop_yuv(const Planes& p, const cv::Rect& r) {
  cv::Mat out(r.size(), CV_8UC3);
  const float fx = 1.f / float(1 << p.sx), fy = 1.f / float(1 << p.sy);
  const int last_x = p.y.cols - 1;
  for (int y = 0; y < r.height; ++y) {
    const uint8_t* ys = p.y.ptr<uint8_t>(std::clamp(r.y + y, 0, p.y.rows - 1));
    const float cy = std::clamp((float(r.y + y) + 0.5f) * fy - 0.5f, 0.f, float(p.u.rows - 1));
    const int y0 = int(cy), y1 = std::min(y0 + 1, p.u.rows - 1);
    const float wy = cy - float(y0);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < r.width; ++x) {
      const float cx = std::clamp((float(r.x + x) + 0.5f) * fx - 0.5f, 0.f, float(p.u.cols - 1));
      const int x0 = int(cx), x1 = std::min(x0 + 1, p.u.cols - 1);
      const float wx = cx - float(x0);
      auto sample = [&](const cv::Mat& m) {
        float top = m.at<uint8_t>(y0, x0) * (1 - wx) + m.at<uint8_t>(y0, x1) * wx;
        float bottom = m.at<uint8_t>(y1, x0) * (1 - wx) + m.at<uint8_t>(y1, x1) * wx;
        return uint8_t(std::lround(top * (1 - wy) + bottom * wy));
      };
      o[x] = cv::Vec3b(ys[std::clamp(r.x + x, 0, last_x)], sample(p.u), sample(p.v));
    }
  }
  return out;
}

// The clear frame's crop at the shift (within +-kAlign) that best matches the marked crop on the
// band outside the mark (the motion between the two frames), so a pair compares the same scenery.
constexpr int kAlign = 3;
cv::Mat aligned_crop(const Planes& clear, const cv::Mat& marked, const cv::Rect& grown, int band_x,
                     int band_y) {
  const cv::Rect frame_rect(0, 0, clear.y.cols, clear.y.rows);
  double best = 1e18;
  cv::Point best_shift(0, 0);
  for (int dy = -kAlign; dy <= kAlign; ++dy)
    for (int dx = -kAlign; dx <= kAlign; ++dx) {
      cv::Rect r = grown + cv::Point(dx, dy);
      // Only samples both crops hold of the frame compare (a grown box may leave it; outside,
      // the crops repeat their edges).
      const int x0 = std::max({0, -r.x, -grown.x}), x1 = std::min({r.width, frame_rect.width - r.x, frame_rect.width - grown.x});
      const int y0 = std::max({0, -r.y, -grown.y}), y1 = std::min({r.height, frame_rect.height - r.y, frame_rect.height - grown.y});
      double sad = 0;
      long count = 0;
      for (int y = y0; y < y1; ++y) {
        const uint8_t* a = clear.y.ptr<uint8_t>(r.y + y) + r.x;
        const cv::Vec3b* m = marked.ptr<cv::Vec3b>(y);
        const bool band_row = y < band_y || y >= r.height - band_y;
        for (int x = x0; x < x1; ++x)
          if (band_row || x < band_x || x >= r.width - band_x) {
            sad += std::min(std::abs(int(a[x]) - int(m[x][0])), 24);  // the mark may reach the band
            ++count;
          }
      }
      if (!count) continue;
      sad = sad / double(count) * (1.0 + 0.02 * (std::abs(dx) + std::abs(dy)));  // a tie goes to no motion
      if (sad < best) {
        best = sad;
        best_shift = {dx, dy};
      }
    }
  return crop_yuv(clear, grown + best_shift);
}

struct Observation {
  cv::Mat obs, bg;  // CV_8UC3 (Y, U, V), the grown box
  double mismatch;  // mean squared luma difference on the band outside the mark, levels^2
  cv::Rect inside;  // the part of the crops inside the frame (crop coordinates)
};

// How far the two crops of a pair differ where the mark is not (the band that aligned them):
// motion the shift did not undo, and noise. Each sample's square is capped as in the alignment,
// since the mark may reach into the band.
double band_mismatch(const cv::Mat& marked, const cv::Mat& clear, int band_x, int band_y, const cv::Rect& inside) {
  double sum = 0;
  int count = 0;
  for (int y = inside.y; y < inside.br().y; ++y) {
    const cv::Vec3b* m = marked.ptr<cv::Vec3b>(y);
    const cv::Vec3b* c = clear.ptr<cv::Vec3b>(y);
    const bool band_row = y < band_y || y >= marked.rows - band_y;
    for (int x = inside.x; x < inside.br().x; ++x)
      if (band_row || x < band_x || x >= marked.cols - band_x) {
        const double d = std::min(std::abs(int(m[x][0]) - int(c[x][0])), 24);
        sum += d * d;
        ++count;
      }
  }
  return count ? sum / count : 0.0;
}

double median(std::vector<float> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + long(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// What a glyph found alone draws with it: the measured alpha connected to the glyph, where
// strokes a fraction of the glyph's height apart count as connected (the letters of its word and
// handle line, the gap to the glyph). The rest of the reach measured is background that a handful
// of pairs did not pin down (texture, the frame's repeated edge) and is set to 0.
void keep_anchored(cv::Mat& alpha, const cv::Rect& glyph) {
  const int r = std::max(2, glyph.height / 8);
  cv::Mat ink = alpha >= 0.25f, joined, labels;
  cv::dilate(ink, joined, cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * r + 1, 2 * r + 1}));
  const int n = cv::connectedComponents(joined, labels, 8, CV_32S);
  std::vector<bool> anchored(size_t(n), false);
  for (int y = glyph.y; y < glyph.br().y; ++y)
    for (int x = glyph.x; x < glyph.br().x; ++x)
      if (ink.at<uint8_t>(y, x)) anchored[size_t(labels.at<int>(y, x))] = true;
  for (int y = 0; y < alpha.rows; ++y)
    for (int x = 0; x < alpha.cols; ++x) {
      const int l = labels.at<int>(y, x);
      if (!l || !anchored[size_t(l)]) alpha.at<float>(y, x) = 0;
    }
}

// A departure waits for the first clear frame after the mark left; an arrival's clear frame also
// pairs with the next few frames of the mark. Up to kPerJump marked frames pair with each, the
// nearest in time that show the whole mark, looked for within kFadeReach frames of the jump:
// Sora's word fades in a few frames after its cloud arrives and goes a frame or two before it
// leaves, and pairs without it would measure the word as absent.
constexpr int kPerJump = 3;
constexpr int kFadeReach = 8;
constexpr int kInkLevels = 16;  // a change of luma this large between a pair's frames is ink
// Boxes within this many pixels are the mark at one spot (detection moves it by a pixel or two
// while the word fades in or out).
constexpr int kSameSpot = 3;
bool same_spot(const cv::Rect& a, const cv::Rect& b) {
  return std::abs(a.x - b.x) <= kSameSpot && std::abs(a.y - b.y) <= kSameSpot;
}

}  // namespace

struct ProfileMeasurer::State {
  State(const Profile& coarse_profile, int w, int h, const RefineOptions& options)
      : coarse(coarse_profile), width(w), height(h), opt(options), scaled(scale_profile(coarse, width)),
        templ(mark_template(scaled)), gx(std::max(4, int(std::lround(scaled.alpha.cols * opt.grow_x)))),
        gy(std::max(4, int(std::lround(scaled.alpha.rows * opt.grow_y)))),
        crop_size(scaled.alpha.cols + 2 * gx, scaled.alpha.rows + 2 * gy), frame_rect(0, 0, width, height),
        band_x(std::max(2, gx / 2)), band_y(std::max(2, gy / 2)),
        detector(make_profile_detector(coarse, width, height)) {
    if (auto parts = mark_parts(scaled.alpha)) text = parts->text;
  }

  bool clear_at(const Planes& p, const cv::Rect& grown) const {
    cv::Rect box(grown.x + gx, grown.y + gy, templ.cols, templ.rows);
    return best_match(p.y(box), templ).score < kClear;
  }
  // A pair counts only when the difference between its two crops is the mark's own pattern: a
  // spot that only seemed clear (a faint mark the detector missed for a frame, which is no jump)
  // differs by noise, and such a pair would measure the mark as absent.
  bool pair_with(const cv::Mat& obs, const Planes& clear, const cv::Rect& grown) {
    cv::Mat bg = aligned_crop(clear, obs, grown, band_x, band_y);
    const cv::Rect box(gx, gy, templ.cols, templ.rows);
    cv::Mat oy, by, difference;
    cv::extractChannel(obs(box), oy, 0);
    cv::extractChannel(bg(box), by, 0);
    cv::subtract(oy, by, difference, cv::noArray(), CV_32F);
    const double signature = best_match(difference, templ).score;
    // The mark's text alone, where it has some: present too (not still fading in).
    const double text_signature = text.area() ? best_match(difference(text), templ(text)).score : 1.0;
    log_for("detect")->debug("refine: pair at ({}, {}): the difference matches the mark at {:.2f} (its text {:.2f})",
                             grown.x + gx, grown.y + gy, signature, text_signature);
    // A glyph found alone is near-opaque: its own difference must be clear.
    const double least = opt.split_sides ? kGlyphPairSignature : kPairSignature;
    if (signature < least || text_signature < kPairSignature) {
      ++rep.pairs_rejected;
      return false;
    }
    const cv::Rect inside = (grown & frame_rect) - grown.tl();
    const double mismatch = band_mismatch(obs, bg, band_x, band_y, inside);
    Observation pair{obs, std::move(bg), mismatch, inside};
    // A glyph alone: the pair must show its text on one side (not still fading in).
    if (opt.split_sides) {
      const int side = text_side(pair);
      log_for("detect")->debug("refine: pair at ({}, {}): its text on side {} (0 right, 1 left, -1 neither)",
                               grown.x + gx, grown.y + gy, side);
      if (side < 0) {
        ++rep.pairs_rejected;
        return false;
      }
    }
    pairs.push_back(std::move(pair));
    return true;
  }
  void observe(const Frame& f);
  std::optional<Profile> finish(const std::string& source);
  std::optional<Profile> measure(const std::vector<Observation>& pairs, const std::string& source);
  int text_side(const Observation& o) const;

  const Profile coarse;
  const int width, height;
  const RefineOptions opt;
  const ScaledMark scaled;
  const cv::Mat templ;
  cv::Rect text;  // the mark's text beside its glyph, in the template (empty: no such parts)
  const int gx, gy;  // the detected box grown by this much on each side
  const cv::Size crop_size;
  const cv::Rect frame_rect;
  const int band_x, band_y;  // the band around the mark that aligns a pair
  std::unique_ptr<Detector> detector;
  RefineReport rep;

  std::vector<Observation> pairs;
  std::deque<std::pair<std::optional<cv::Rect>, Planes>> ring;  // the last frames, newest last
  struct Departure {
    cv::Rect grown;
    std::vector<std::pair<cv::Rect, cv::Mat>> obs;  // the last crops of the mark, each with its box
    std::optional<Planes> clear;  // the first frame that showed the spot clear
    int waited = 0, confirmed = 0;
  };
  // The last frames before the mark left, newest first, until kPerJump show the whole mark.
  void pair_departure(const Departure& d) {
    int paired = 0;
    for (auto o = d.obs.rbegin(); o != d.obs.rend() && paired < kPerJump; ++o)
      paired += pair_with(o->second, *d.clear, o->first);
  }
  std::vector<Departure> departures;
  struct Arrival { cv::Rect grown; Planes clear; int wanted = 0, reach = 0; };
  std::optional<Arrival> arrival;
  std::optional<cv::Rect> last;  // the previous frame's mark (grown box)
  std::deque<std::pair<cv::Rect, cv::Mat>> last_obs;  // its last few crops at this spot
  std::vector<cv::Point2d> centres;
  bool stopped = false;  // a frame of another size came
};

void ProfileMeasurer::State::observe(const Frame& f) {
  ++rep.frames_read;
  std::optional<cv::Rect> grown;
  for (const Mark& m : detector->detect(f)) {
    cv::Rect g(m.box.x - gx, m.box.y - gy, crop_size.width, crop_size.height);
    // The other layout (mirrored_layout) is not measured: its parts sit elsewhere in the box.
    const cv::Rect box(m.box.x, m.box.y, m.box.w, m.box.h);
    if (m.layout == 0 && m.box.w == templ.cols && m.box.h == templ.rows && (box & frame_rect) == box) grown = g;
  }
  Planes planes = view_planes(f);
  auto overlaps = [&](const cv::Rect& r) { return grown && (*grown & r).area() > 0; };

  // Departures: the first clear frame after the mark left a spot, paired once the spot has stayed
  // free of it for kConfirm frames more (a mark missed for a frame or two comes back: no jump).
  for (auto it = departures.begin(); it != departures.end();) {
    if (overlaps(it->grown)) {
      it = departures.erase(it);
    } else if (!it->clear) {
      if (clear_at(planes, it->grown)) it->clear = planes;
      else if (++it->waited >= opt.pair_reach) it = departures.erase(it);
      else ++it;
      continue;
    } else if (++it->confirmed >= kConfirm) {
      pair_departure(*it);
      it = departures.erase(it);
    } else {
      ++it;
    }
  }
  if (last && !overlaps(*last)) departures.push_back({*last, {last_obs.begin(), last_obs.end()}});
  if (!grown || !last || !same_spot(*grown, *last)) last_obs.clear();

  if (grown) {
    ++rep.frames_with_mark;
    cv::Mat obs = crop_yuv(planes, *grown);
    centres.emplace_back((grown->x + grown->width / 2.0) / width, (grown->y + grown->height / 2.0) / height);
    // Arrival: the nearest earlier frame where the spot was clear.
    // Only where the ring saw no mark there: the same spot marked a few frames ago is a mark
    // missed for a while, not one arriving.
    const bool arrived = !last || (*last & *grown).area() == 0;
    const bool seen_there = std::any_of(ring.begin(), ring.end(), [&](const auto& r) {
      return r.first && (*r.first & *grown).area() > 0;
    });
    if (arrived && !seen_there) {
      int looked = 0;
      for (auto it = ring.rbegin(); it != ring.rend() && looked < opt.pair_reach + kRing / 2; ++it, ++looked) {
        const bool marked_there = it->first && (*it->first & *grown).area() > 0;
        if (!marked_there && clear_at(it->second, *grown)) {
          arrival = Arrival{*grown, it->second, kPerJump - int(pair_with(obs, it->second, *grown)), kFadeReach - 1};
          break;
        }
      }
    } else if (arrival && same_spot(arrival->grown, *grown) && arrival->wanted > 0 && arrival->reach-- > 0) {
      arrival->wanted -= int(pair_with(obs, arrival->clear, *grown));
    }
    last_obs.emplace_back(*grown, obs);
    if (int(last_obs.size()) > kFadeReach) last_obs.pop_front();
  }
  last = grown;
  ring.emplace_back(grown, std::move(planes));
  if (int(ring.size()) > kRing) ring.pop_front();
}

std::optional<Profile> ProfileMeasurer::State::finish(const std::string& source) {
  // Departures near the last frame seen: the frames ran out, not the jump's confirmation.
  for (const Departure& d : departures)
    if (d.clear) pair_departure(d);
  departures.clear();
  rep.jump_pairs = int(pairs.size());
  if (rep.frames_with_mark < 8) {
    rep.summary = "the mark was found in " + std::to_string(rep.frames_with_mark) + " of " +
                  std::to_string(rep.frames_read) + " frames: too few to measure it";
    return std::nullopt;
  }
  if (rep.jump_pairs < opt.min_pairs) {
    // Filled-in guesses alone, over the grown box, measure texture as much as the mark: a
    // profile learned from many frames is the better estimate.
    rep.summary = "the mark did not jump (" + std::to_string(rep.jump_pairs) + " frame pairs" +
                  (rep.pairs_rejected ? ", " + std::to_string(rep.pairs_rejected) + " more that did not show it" : "") +
                  "): nothing showed the background under it";
    return std::nullopt;
  }
  if (!opt.split_sides) return measure(pairs, source);

  // A glyph alone: each pair's text shows on one side of it; each side is measured on its own.
  std::vector<Observation> sides[2];  // [0] text right of the glyph, [1] left
  int unsided = 0;
  for (Observation& o : pairs) {
    const int side = text_side(o);
    if (side < 0) ++unsided;
    else sides[side].push_back(std::move(o));
  }
  pairs.clear();
  std::optional<Profile> measured[2];
  std::string summaries[2];
  for (int k = 0; k < 2; ++k) {
    if (int(sides[k].size()) < opt.min_pairs) {
      summaries[k] = std::to_string(sides[k].size()) + " pairs";
      continue;
    }
    measured[k] = measure(sides[k], source);
    summaries[k] = rep.summary;
  }
  rep.summary = "text right of the glyph: " + summaries[0] + "; text left of it: " + summaries[1] +
                (unsided ? "; " + std::to_string(unsided) + " pairs showed no text on either side" : "");
  const int primary = measured[0] ? 0 : 1;
  if (!measured[primary]) return std::nullopt;
  Profile out = *measured[primary];
  if (measured[1 - primary]) out.mirror = std::make_shared<const Profile>(*measured[1 - primary]);
  return out;
}

// Which side of the glyph a pair's text shows on: 0 right, 1 left, -1 neither clearly (samples
// beside the glyph, at its rows, whose luma changed by more than kInkLevels between the pair's
// frames).
int ProfileMeasurer::State::text_side(const Observation& o) const {
  int ink[2] = {0, 0};
  for (int y = gy; y < gy + templ.rows; ++y) {
    const cv::Vec3b* ob = o.obs.ptr<cv::Vec3b>(y);
    const cv::Vec3b* bg = o.bg.ptr<cv::Vec3b>(y);
    for (int x = o.inside.x; x < o.inside.br().x; ++x) {
      if (x >= gx && x < gx + templ.cols) continue;
      ink[x < gx ? 1 : 0] += std::abs(int(ob[x][0]) - int(bg[x][0])) > kInkLevels;
    }
  }
  // The text is a good part of a glyph's area of changed samples on its side, and several times
  // what the other side shows (the background's own change where motion was not undone).
  const int least = templ.rows * templ.cols / 4;
  if (ink[0] >= least && ink[0] > 3 * ink[1]) return 0;
  if (ink[1] >= least && ink[1] > 3 * ink[0]) return 1;
  return -1;
}

std::optional<Profile> ProfileMeasurer::State::measure(const std::vector<Observation>& pairs, const std::string& source) {
  auto log = log_for("detect");
  const size_t n = pairs.size();
  const int npix = crop_size.area();
  // Each pair counts by how well its two frames agree around the mark: one spoilt by motion the
  // shift did not undo (tens of levels^2, against a few for a clean one) counts for little. Of
  // the mismatch, half is taken to be the clear frame's (noise is in both frames alike).
  std::vector<double> prior(n);
  double prior_sum = 0, b_noise = 0;
  for (size_t i = 0; i < n; ++i) {
    prior[i] = 1.0 / (pairs[i].mismatch + kNoiseFloor);
    prior_sum += prior[i];
    b_noise += prior[i] * pairs[i].mismatch;
  }
  b_noise = 0.5 * b_noise / prior_sum;
  std::vector<float> b(n), o(n);
  auto samples = [&](int p, int ch) {
    const int x = p % crop_size.width, y = p / crop_size.width;
    for (size_t i = 0; i < n; ++i) {
      b[i] = pairs[i].bg.at<cv::Vec3b>(y, x)[ch];
      o[i] = pairs[i].obs.at<cv::Vec3b>(y, x)[ch];
    }
  };
  // 1. The mark's colour: where the free fit finds it strong (alpha > 0.3), the median over
  //    those pixels of the colour each implies (per channel: the median over the pairs).
  //    A glyph found alone keeps the profile's colour: the pairs of one side are few, and the
  //    glyph's own (near-opaque) samples pin a colour down poorly where its background varies
  //    little between them (a dark coat under it gave Y 105 for a white mark).
  const cv::Rect glyph_box(gx, gy, templ.cols, templ.rows);
  cv::Vec3f colour;
  if (opt.split_sides) {
    std::vector<float> known[3];
    for (int y = 0; y < scaled.alpha.rows; ++y)
      for (int x = 0; x < scaled.alpha.cols; ++x)
        if (scaled.alpha.at<float>(y, x) >= 0.5f)
          for (int ch = 0; ch < 3; ++ch) known[ch].push_back(scaled.color.at<cv::Vec3f>(y, x)[ch]);
    if (known[0].empty()) {
      rep.summary = "the glyph has no opaque part to take its colour from";
      return std::nullopt;
    }
    colour = cv::Vec3f(float(median(known[0])), float(median(known[1])), float(median(known[2])));
  } else {
  std::vector<float> strong[3];
  for (int p = 0; p < npix; ++p) {
    samples(p, 0);
    const BlendLine line = fit_blend_line(b, o, -1, prior, b_noise);
    const double a = line.alpha();
    if (a <= 0.3) continue;
    strong[0].push_back(float(std::clamp(line.intercept / a, 0.0, 255.0)));
    for (int ch = 1; ch <= 2; ++ch) {
      samples(p, ch);
      std::vector<float> est(n);
      for (size_t i = 0; i < n; ++i) est[i] = float((o[i] - (1 - a) * b[i]) / a);
      strong[ch].push_back(float(std::clamp(median(est), 0.0, 255.0)));
    }
  }
  if (strong[0].size() < 16) {
    rep.summary = "no pixel of the mark could be measured (the background never varied under it)";
    return std::nullopt;
  }
  colour = cv::Vec3f(float(median(strong[0])), float(median(strong[1])), float(median(strong[2])));
  }
  // 2. Alpha per pixel with that colour fixed: one unknown, which a handful of pairs pins down.
  //    (The colour implied again by that alpha is the same colour: the two are fitted together.)
  cv::Mat alpha(crop_size, CV_32F, cv::Scalar(0));
  for (int p = 0; p < npix; ++p) {
    samples(p, 0);
    alpha.at<float>(p / crop_size.width, p % crop_size.width) = float(fit_blend_line(b, o, colour[0], prior).alpha());
  }
  // Per-pixel noise (a handful of pairs each) would come back amplified by 1 / (1 - alpha) as
  // speckle; a mark's alpha is smooth but for its edges, which a median keeps.
  cv::medianBlur(alpha, alpha, 3);
  if (opt.split_sides) keep_anchored(alpha, glyph_box);
  cv::Mat color(crop_size, CV_32FC3, colour);
  alpha.setTo(0, alpha < 0.02f);

  // 3. Where undoing beats painting: on the pairs themselves, where the truth is seen, each
  //    translucent pixel is undone with the measured alpha and also inpainted from around the
  //    mark; the one closer to the clear frame wins there. Compression noise, ringing at the
  //    mark's edges and a misfit alpha all come back amplified by 1 / (1 - alpha) when undone;
  //    this is how much, on this video.
  std::vector<double> err_undo(size_t(npix), 0.0), err_paint(size_t(npix), 0.0);
  cv::Mat footprint = alpha > 0.004f;
  cv::dilate(footprint, footprint, cv::Mat());
  for (size_t i = 0; i < n; ++i) {
    const Observation& pair = pairs[i];
    const double weight = prior[i] * n / prior_sum;  // a clean pair's truth is the surer
    cv::Mat oy, by;
    cv::extractChannel(pair.obs, oy, 0);
    cv::extractChannel(pair.bg, by, 0);
    cv::Mat painted = oy.clone();
    inpaint_mask(painted.data, ptrdiff_t(painted.step), painted.cols, painted.rows,
                 Box{0, 0, painted.cols, painted.rows}, footprint.data, ptrdiff_t(footprint.step));
    for (int p = 0; p < npix; ++p) {
      const int x = p % crop_size.width, y = p / crop_size.width;
      const double a = alpha.at<float>(y, x);
      if (a <= 0.004 || a >= kUndoLimit) continue;
      const double truth = by.at<uint8_t>(y, x);
      const double undone = std::clamp((oy.at<uint8_t>(y, x) - a * colour[0]) / (1 - a), 0.0, 255.0);
      err_undo[size_t(p)] += weight * (undone - truth) * (undone - truth);
      const double paint = painted.at<uint8_t>(y, x) - truth;
      err_paint[size_t(p)] += weight * paint * paint;
    }
  }
  cv::Mat undo(crop_size, CV_8U, cv::Scalar(0));
  double sum_undo = 0, sum_paint = 0;
  int translucent = 0;
  for (int p = 0; p < npix; ++p) {
    if (err_undo[size_t(p)] == 0 && err_paint[size_t(p)] == 0) continue;
    ++translucent;
    sum_undo += err_undo[size_t(p)];
    sum_paint += err_paint[size_t(p)];
    if (err_undo[size_t(p)] < err_paint[size_t(p)]) undo.at<uint8_t>(p / crop_size.width, p % crop_size.width) = 255;
  }
  cv::medianBlur(undo, undo, 5);  // no salt and pepper of the two methods
  // Over the whole mark painting did better: paint all of it (stray undone pixels show as specks).
  if (sum_undo >= sum_paint) undo.setTo(0);
  const double undo_share = translucent ? double(cv::countNonZero(undo)) / translucent : 0.0;

  cv::Rect tight = cv::boundingRect(alpha > 0.06f);
  const double mean_alpha = tight.area() ? cv::mean(alpha(tight))[0] : 0.0;
  if (tight.width < 4 || tight.height < 3 || mean_alpha < 0.05) {
    rep.summary = "the measured mark is empty";
    return std::nullopt;
  }
  tight = cv::Rect(tight.x - 2, tight.y - 2, tight.width + 4, tight.height + 4) & cv::Rect({0, 0}, crop_size);

  Profile out;
  out.name = coarse.name;
  out.mirrors = coarse.mirrors;
  out.mirror = coarse.mirror;  // the other layout as measured before (only this one is measured here)
  out.places_only = coarse.places_only;
  out.template_grey = coarse.template_grey;
  out.reference_width = width;
  out.reference_height = height;
  out.alpha = alpha(tight).clone();
  out.color = color(tight).clone();
  out.undo = undo(tight).clone();
  out.learned_from = coarse.learned_from.empty() ? "refined on " + source
                                                 : coarse.learned_from + "; refined on " + source;
  const cv::Point2d shift((tight.x + tight.width / 2.0 - crop_size.width / 2.0) / width,
                          (tight.y + tight.height / 2.0 - crop_size.height / 2.0) / height);
  for (const cv::Point2d& c : centres) {
    const cv::Point2d at = c + shift;
    bool near = false;
    for (const auto& p : out.places) near = near || std::hypot(p.x - at.x, p.y - at.y) < 0.04;
    if (!near) out.places.push_back(at);
  }
  char line[320];
  std::snprintf(line, sizeof line, "%dx%d at %dx%d from %d frames with the mark (%d jump pairs, %d rejected), colour Y %.0f U %.0f V %.0f; "
                "undone at %.0f%% of its translucent pixels (on the pairs: undo rms %.1f, inpaint rms %.1f)",
                out.width(), out.height(), width, height, rep.frames_with_mark, rep.jump_pairs, rep.pairs_rejected,
                double(colour[0]), double(colour[1]), double(colour[2]), undo_share * 100,
                std::sqrt(sum_undo / std::max(1.0, double(translucent) * double(n))),
                std::sqrt(sum_paint / std::max(1.0, double(translucent) * double(n))));
  rep.summary = line;
  log->info("refined profile {}: {}", coarse.name, rep.summary);
  return out;
}

ProfileMeasurer::ProfileMeasurer(const Profile& coarse, int width, int height, const RefineOptions& options)
    : s_(std::make_unique<State>(coarse, width, height, options)) {}

ProfileMeasurer::~ProfileMeasurer() = default;

bool ProfileMeasurer::observe(const Frame& frame) {
  if (done()) return false;
  if (frame.width() != s_->width || frame.height() != s_->height) {
    s_->stopped = true;  // a size change: what follows cannot pair with what came before
    return false;
  }
  s_->observe(frame);
  return !done();
}

bool ProfileMeasurer::done() const { return s_->stopped || s_->rep.frames_read >= s_->opt.max_frames; }

int ProfileMeasurer::frames_seen() const { return s_->rep.frames_read; }

const Profile& ProfileMeasurer::coarse() const { return s_->coarse; }

int ProfileMeasurer::width() const { return s_->width; }

int ProfileMeasurer::height() const { return s_->height; }

const RefineOptions& ProfileMeasurer::options() const { return s_->opt; }

std::optional<Profile> ProfileMeasurer::finish(const std::string& source, RefineReport* report) {
  std::optional<Profile> out = s_->finish(source);
  if (report) *report = s_->rep;
  return out;
}

std::optional<Profile> refine_profile(const Profile& coarse, const std::string& input, int width,
                                      int height, const RefineOptions& options, RefineReport* report,
                                      const std::atomic<bool>* cancel) {
  ProfileMeasurer measurer(coarse, width, height, options);
  read_frames(input, [&](Frame& f) { return measurer.observe(f); }, cancel);
  return measurer.finish(input, report);
}

}  // namespace unmark

// Profile matching: normalized cross-correlation of the luma plane with the mark's expected
// appearance, alpha * (colour - mid-grey).
//
// Why NCC on luma: a translucent mark adds alpha * (colour - background) to what is beneath it;
// over any locally uniform background that is the template up to gain and offset, which NCC
// ignores. Chroma adds little for a white mark and would cost another plane. Textured backgrounds
// lower the score, hence two thresholds: a strict one to accept a mark found by search and a
// looser one to keep following it where it was (and the tracker's verification around runs).
// Where a background's own strong structure (printed text under a translucent mark) swamps the
// correlation, the blend test (blend_test.h) judges the mark's translucent edges instead.
//
// Cost: the full search runs on the luma plane downscaled so the mark is ~40 px wide; a
// verification is a few-pixel window at full resolution. A frame with the mark where it was last
// costs one verification; a full search happens only on misses, at most every
// `search_interval` frames, with the profile's known places checked on every miss.
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "detect/blend_test.h"
#include "detect/detector.h"
#include "detect/match.h"
#include "detect/plane_copy.h"
#include "detect/profile.h"

namespace unmark {
namespace {

constexpr int kSearchMarkWidth = 40;  // mark width in the downscaled search image, in pixels
constexpr double kCoreThreshold = 0.55;  // the opaque core's correlation when the whole mark is weak
constexpr int kVerifyHalfFrom = 60;  // marks at least twice this wide are verified at half size first
// The blend test (blend_test.h) where correlation finds nothing: its score to accept a mark, and
// the lower one a placement in the downscaled search image needs to be looked at in full.
constexpr double kBlendThreshold = 0.10;
constexpr double kBlendSearchThreshold = 0.02;
constexpr int kBlendCandidates = 3;  // placements of the downscaled search looked at in full
constexpr double kLayoutMargin = 0.05;  // another layout replaces the one followed when this much better
constexpr int kBlendVerifyReach = 4;  // pixels around the box a verification's blend test looks

// The part of the frame's luma in `roi` as an 8-bit cv::Mat without copying 8-bit data.
cv::Mat luma(const Frame& frame, cv::Rect roi) { return plane_8bit(frame.plane(0), roi); }

// One layout of the mark at the frame's scale: everything matching needs, made once.
struct Layout {
  Layout(const Profile& profile, int width, double search_scale, int index) : index(index) {
    auto scaled = std::make_shared<ScaledMark>(scale_profile(profile, width));
    const ScaledMark& mark = *scaled;
    appearance = scaled;
    full = mark_template(mark);
    // The opaque core, the largest connected blob of alpha >= 0.75 (the Sora cloud, not its
    // word): what is still there when a mark half fades.
    cv::Mat labels, stats, centroids;
    int n = cv::connectedComponentsWithStats(mark.alpha >= 0.75f, labels, stats, centroids, 8, CV_32S);
    cv::Rect core;
    for (int i = 1, best = 0; i < n; ++i) {
      if (stats.at<int>(i, cv::CC_STAT_AREA) <= best) continue;
      best = stats.at<int>(i, cv::CC_STAT_AREA);
      core = {stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
              stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT)};
    }
    if (core.width >= 6 && core.height >= 6 && size_t(core.area()) < full.total() * 9 / 10) {
      core_rect = core;
      core_template = full(core).clone();
    }
    if (full.cols >= 2 * kVerifyHalfFrom) cv::resize(full, half, {}, 0.5, 0.5, cv::INTER_AREA);
    cv::resize(full, small, {}, search_scale, search_scale, cv::INTER_AREA);
    std::vector<cv::Mat> yuv;
    cv::split(mark.color, yuv);
    blend_full = BlendTest(mark.alpha, yuv[0]);
    cv::Mat small_alpha, small_luma;
    resize_for_blend_test(mark.alpha, yuv[0], search_scale, small_alpha, small_luma);
    blend_small = BlendTest(small_alpha, small_luma);
  }
  int index;
  std::shared_ptr<const ScaledMark> appearance;
  cv::Mat full, small, half, core_template;
  cv::Rect core_rect;  // the core's place in the template
  BlendTest blend_full, blend_small;  // at full resolution and at the search scale
};

class ProfileDetector final : public Detector {
 public:
  ProfileDetector(const Profile& profile, int width, int height, const ProfileDetectorOptions& opt)
      : name_("profile:" + profile.name), width_(width), height_(height), opt_(opt),
        whole_frame_(!profile.places_only || profile.places.empty()) {
    const cv::Mat templ = mark_template(scale_profile(profile, width));
    search_scale_ = std::min(1.0, double(kSearchMarkWidth) / templ.cols);
    layouts_.emplace_back(profile, width, search_scale_, 0);
    if (profile.mirror) layouts_.emplace_back(*profile.mirror, width, search_scale_, 1);
    else if (profile.mirrors)
      if (auto mirrored = mirrored_layout(profile)) layouts_.emplace_back(*mirrored, width, search_scale_, 1);
    for (const cv::Point2d& p : profile.places) places_.emplace_back(p.x * width, p.y * height);
  }

  std::string name() const override { return name_; }

  std::vector<Mark> detect(const Frame& frame) override {
    std::optional<Mark> followed;
    if (last_) {
      followed = verify(frame, last_->box);
      if (followed && followed->confidence >= opt_.strong) {  // the cheap path: still there
        last_ = followed;
        return {*followed};
      }
      if (!followed) since_search_ = opt_.search_interval;  // lost: search at once
    }
    // Weak or lost: look at the known places and the whole frame (every few frames while a weak
    // mark is still followed); a stronger mark elsewhere wins over a weak one followed (a mark
    // half gone, or a false start).
    std::optional<Mark> found;
    if (!followed) found = search_places(frame);
    if ((!found || rank(*found) < opt_.strong) && ++since_search_ >= opt_.search_interval) {
      since_search_ = 0;
      if (followed) found = search_places(frame);
      auto full = whole_frame_ ? search_full(frame) : std::nullopt;
      if (full && (!found || rank(*full) > rank(*found))) found = full;
    }
    if (followed && (!found || rank(*followed) >= rank(*found))) found = followed;
    last_ = found;
    if (!found) return {};
    return {*found};
  }

  // The layout last seen is tried first; another is tried only where it is weak, and wins only
  // by a margin: while the word fades in or out only the glyph shows, which both layouts match.
  std::optional<Mark> verify(const Frame& frame, const Box& box) override {
    const int first = last_ ? last_->layout : 0;
    std::optional<Mark> best = verify_layout(frame, box, layouts_[size_t(first)]);
    if (best && best->confidence >= opt_.strong) return best;
    for (const Layout& l : layouts_) {
      if (l.index == first) continue;
      auto m = verify_layout(frame, box, l);
      if (m && (!best || rank(*m) > rank(*best))) best = m;
    }
    return best;
  }

  // A mark's confidence for choosing between marks: a layout other than the one followed loses
  // kLayoutMargin.
  double rank(const Mark& m) const {
    const int followed = last_ ? last_->layout : 0;
    return m.confidence - (m.layout != followed ? kLayoutMargin : 0.0);
  }

 private:
  static cv::Rect to_rect(const Box& b) { return {b.x, b.y, b.w, b.h}; }

  std::optional<Mark> verify_layout(const Frame& frame, const Box& box, const Layout& l) const {
    const int r = std::max(3, l.full.cols / 16);
    Box area = box.grown(r).clipped(width_, height_);
    if (area.w < l.full.cols || area.h < l.full.rows) return std::nullopt;
    cv::Mat image = luma(frame, to_rect(area));
    if (auto m = correlate(image, area, l)) return m;
    // The blend test costs per placement: where correlation lost the mark it is looked for
    // within kBlendVerifyReach of the box (a mark that holds still, or drifts a pixel or two;
    // one that jumped is found by the search), not over the whole window.
    const Box near = box.grown(kBlendVerifyReach).clipped(width_, height_);
    if (near.w >= l.full.cols && near.h >= l.full.rows && near.w < area.w)
      return blend(luma(frame, to_rect(near)), near, l);
    return blend(image, area, l);
  }

  Mark mark_at(const Layout& l, const Box& area, cv::Point at, double confidence) const {
    Mark m{{area.x + at.x, area.y + at.y, l.full.cols, l.full.rows}, float(confidence), l.appearance};
    m.layout = l.index;
    return m;
  }

  // The mark by correlation in `image`, the luma of `area`.
  std::optional<Mark> correlate(const cv::Mat& image, const Box& area, const Layout& l) const {
    cv::Point at;
    double score;
    if (!l.half.empty()) {
      // A large mark: find it at half resolution, then refine +-1 px at full resolution (the
      // full-resolution match over the whole window costs ~10x more).
      cv::Mat half;
      cv::resize(image, half, {}, 0.5, 0.5, cv::INTER_AREA);
      if (half.cols < l.half.cols || half.rows < l.half.rows) return std::nullopt;
      auto [coarse_score, coarse_at] = unmark::best_match(half, l.half);
      if (coarse_score < opt_.keep_threshold * 0.8) return std::nullopt;
      cv::Rect fine(coarse_at.x * 2 - 2, coarse_at.y * 2 - 2, l.full.cols + 4, l.full.rows + 4);
      fine &= cv::Rect(0, 0, image.cols, image.rows);
      if (fine.width < l.full.cols || fine.height < l.full.rows) return std::nullopt;
      auto [fine_score, fine_at] = unmark::best_match(image(fine), l.full);
      score = fine_score;
      at = fine.tl() + fine_at;
    } else {
      auto [full_score, full_at] = unmark::best_match(image, l.full);
      score = full_score;
      at = full_at;
    }
    if (score < opt_.keep_threshold) return std::nullopt;
    // A weak match is kept only if the mark's opaque core is really there (a mark half gone keeps
    // its core; a smooth or textured background that happens to correlate does not).
    if (score < opt_.threshold && !l.core_template.empty()) {
      // The whole template's peak drifts a few pixels once part of the mark is gone: search the
      // core a little wider, and let it place the box.
      const int slack = 3;
      cv::Rect core_area(at.x + l.core_rect.x - slack, at.y + l.core_rect.y - slack,
                         l.core_rect.width + 2 * slack, l.core_rect.height + 2 * slack);
      core_area &= cv::Rect(0, 0, image.cols, image.rows);
      if (core_area.width < l.core_template.cols || core_area.height < l.core_template.rows) return std::nullopt;
      auto [core_score, core_at] = unmark::best_match(image(core_area), l.core_template);
      if (core_score < kCoreThreshold) return std::nullopt;
      at = core_area.tl() + core_at - l.core_rect.tl();
    }
    return mark_at(l, area, at, score);
  }

  // The mark by the blend test in `image`, the luma of `area`: for a translucent mark over a
  // background whose own structure swamps correlation. Its score is reported on correlation's
  // scale (its threshold at the search threshold) so that the detector's and the tracker's
  // choices between marks stay comparable.
  std::optional<Mark> blend(const cv::Mat& image, const Box& area, const Layout& l) const {
    if (!l.blend_full.usable()) return std::nullopt;
    double score;
    cv::Point at;
    cv::minMaxLoc(l.blend_full.scores(image), nullptr, &score, nullptr, &at);
    if (score < kBlendThreshold) return std::nullopt;
    const double confidence = opt_.threshold + (1 - opt_.threshold) * (score - kBlendThreshold) / (1 - kBlendThreshold);
    return mark_at(l, area, at, confidence);
  }

  // Search a downscaled area, then refine at full resolution: by correlation, and where that
  // finds nothing, by the blend test. Every layout; the best wins.
  std::optional<Mark> search_area(const Frame& frame, Box area) {
    area = area.clipped(width_, height_);
    const Layout& first = layouts_.front();
    if (area.w < first.full.cols || area.h < first.full.rows) return std::nullopt;
    cv::Mat small;
    cv::resize(luma(frame, to_rect(area)), small, {}, search_scale_, search_scale_, cv::INTER_AREA);
    std::optional<Mark> best;
    for (const Layout& l : layouts_) {
      auto m = search_layout(frame, small, area, l);
      if (m && (!best || rank(*m) > rank(*best))) best = m;
    }
    return best;
  }

  std::optional<Mark> search_layout(const Frame& frame, const cv::Mat& small, const Box& area, const Layout& l) {
    if (small.cols < l.small.cols || small.rows < l.small.rows) return std::nullopt;
    auto [score, at] = unmark::best_match(small, l.small);
    if (score >= opt_.threshold * 0.85) {  // the coarse score runs a little lower
      Box coarse{area.x + int(at.x / search_scale_), area.y + int(at.y / search_scale_), l.full.cols, l.full.rows};
      auto m = verify_layout(frame, coarse.grown(int(std::ceil(1.0 / search_scale_))), l);
      if (m && m->confidence >= opt_.threshold) return m;
    }
    return search_blend(frame, small, area, l);
  }

  // The blend test over `small` (the luma of `area` at the search scale); its best few
  // placements are tested again at full resolution.
  std::optional<Mark> search_blend(const Frame& frame, const cv::Mat& small, const Box& area, const Layout& l) const {
    const cv::Size mark_small = l.blend_small.size();
    if (!l.blend_small.usable() || !l.blend_full.usable() || small.cols < mark_small.width ||
        small.rows < mark_small.height)
      return std::nullopt;
    cv::Mat scores = l.blend_small.scores(small);
    const int reach = int(std::ceil(1.0 / search_scale_)) + 1;  // a small sample spans this many
    std::optional<Mark> best;
    for (int k = 0; k < kBlendCandidates; ++k) {
      double score;
      cv::Point at;
      cv::minMaxLoc(scores, nullptr, &score, nullptr, &at);
      if (score < kBlendSearchThreshold) break;
      Box window = Box{area.x + int(at.x / search_scale_), area.y + int(at.y / search_scale_), l.full.cols,
                       l.full.rows}
                       .grown(reach)
                       .clipped(width_, height_);
      if (window.w >= l.full.cols && window.h >= l.full.rows)
        if (auto m = blend(luma(frame, to_rect(window)), window, l); m && (!best || m->confidence > best->confidence))
          best = m;
      // The next candidate lies elsewhere: not within half the mark of this one.
      const cv::Rect near(at.x - mark_small.width / 2, at.y - mark_small.height / 2, mark_small.width,
                          mark_small.height);
      scores(near & cv::Rect(0, 0, scores.cols, scores.rows)).setTo(-1);
    }
    return best;
  }

  std::optional<Mark> search_places(const Frame& frame) {
    std::optional<Mark> best;
    const Layout& l = layouts_.front();
    for (const cv::Point2d& p : places_) {
      Box around{int(p.x - l.full.cols), int(p.y - l.full.rows), 2 * l.full.cols, 2 * l.full.rows};
      auto m = search_area(frame, around);
      if (m && (!best || rank(*m) > rank(*best))) best = m;
    }
    return best;
  }

  std::optional<Mark> search_full(const Frame& frame) {
    return search_area(frame, {0, 0, width_, height_});
  }

  std::string name_;
  int width_, height_;
  ProfileDetectorOptions opt_;
  bool whole_frame_;  // searched on misses; else only its known places (Profile::places_only)
  std::vector<Layout> layouts_;  // [0] as learned, [1] mirrored where the profile mirrors
  double search_scale_ = 1;
  std::vector<cv::Point2d> places_;
  std::optional<Mark> last_;
  int since_search_ = 1 << 20;
};

}  // namespace

std::unique_ptr<Detector> make_profile_detector(const Profile& profile, int frame_width,
                                                int frame_height, const ProfileDetectorOptions& options) {
  return std::make_unique<ProfileDetector>(profile, frame_width, frame_height, options);
}

}  // namespace unmark

#include "detect/scale_search.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/log.h"
#include "detect/match.h"
#include "detect/plane_copy.h"

namespace unmark {
namespace {

constexpr int kFineSteps = 8;      // the refinement splits one coarse step into this many each way
constexpr int kCoarseCandidates = 2;  // placements per scale and layout looked at in full

// The mark's expected luma change at the reference size (mark_template at scale 1).
cv::Mat reference_template(const Profile& p) {
  ScaledMark m;
  m.alpha = p.alpha;
  m.color = p.color;
  return mark_template(m);
}

cv::Mat resized(const cv::Mat& templ, double scale) {
  cv::Mat out;
  const int w = std::max(4, int(std::lround(templ.cols * scale)));
  const int h = std::max(3, int(std::lround(templ.rows * scale)));
  cv::resize(templ, out, {w, h}, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace

struct ScaleSearch::State {
  struct Rung {
    double scale;       // frame pixels per reference pixel
    double shrink;      // the frame is searched downscaled by this (<= 1)
    std::vector<cv::Mat> templates;  // per layout, at the downscaled size (CV_32F)
    std::vector<cv::Mat> coarse;     // the same at half that size: the first pass
  };
  // A frame's best placement over every scale, and the frame around it for the refinement.
  struct Sighting {
    int rung, layout;
    double score;
    cv::Point at;       // the placement's top-left, full resolution
    cv::Mat crop;       // full-resolution luma around the placement
  };

  State(const Profile& profile, int w, int h, const ScaleSearchOptions& o) : width(w), height(h), opt(o) {
    references.push_back(reference_template(profile));
    if (profile.mirrors)
      if (auto m = mirrored_layout(profile)) references.push_back(reference_template(*m));
    const double ref_w = references[0].cols, ref_h = references[0].rows;
    const double narrowest = std::max(double(opt.min_width), double(std::min(w, h)) / opt.min_share);
    for (double mw = narrowest; mw <= w / 2.0 && mw * ref_h / ref_w <= h / 2.0; mw *= opt.step) {
      Rung r;
      r.scale = mw / ref_w;
      r.shrink = std::min(1.0, opt.search_width / mw);
      for (const cv::Mat& t : references) {
        r.templates.push_back(resized(t, r.scale * r.shrink));
        r.coarse.push_back(resized(r.templates.back(), 0.5));
      }
      ladder.push_back(std::move(r));
    }
  }

  void observe(const Frame& f) {
    ++looked;
    const cv::Mat luma = plane_8bit(f.plane(0), {0, 0, width, height});
    cv::Mat level = luma;
    double level_shrink = 1;
    std::optional<Sighting> best;
    cv::Point best_at;
    for (size_t k = 0; k < ladder.size(); ++k) {
      const Rung& r = ladder[k];
      if (r.shrink < level_shrink) {  // each level from the one before: the whole chain costs ~1.3 frames
        cv::Mat next;
        const cv::Size size(std::max(1, int(std::lround(width * r.shrink))), std::max(1, int(std::lround(height * r.shrink))));
        cv::resize(level, next, size, 0, 0, cv::INTER_AREA);
        level = next;
        level_shrink = r.shrink;
      }
      // Coarse to fine: the level at half size finds the best few placements of each layout,
      // which are scored again at the level's size around them (a quarter of the cost of
      // scoring every placement there).
      cv::Mat level32, half32;
      level.convertTo(level32, CV_32F);
      cv::resize(level32, half32, {std::max(1, level.cols / 2), std::max(1, level.rows / 2)}, 0, 0, cv::INTER_AREA);
      for (size_t l = 0; l < r.templates.size(); ++l) {
        const cv::Mat& t = r.templates[l];
        const cv::Mat& c = r.coarse[l];
        if (half32.cols < c.cols || half32.rows < c.rows || level.cols < t.cols || level.rows < t.rows) continue;
        cv::Mat scores;
        cv::matchTemplate(half32, c, scores, cv::TM_CCOEFF_NORMED);
        cv::patchNaNs(scores, -1);
        for (int candidate = 0; candidate < kCoarseCandidates; ++candidate) {
          double coarse_score;
          cv::Point at;
          cv::minMaxLoc(scores, nullptr, &coarse_score, nullptr, &at);
          if (coarse_score <= -1) break;
          const cv::Rect window = cv::Rect(at.x * 2 - 2, at.y * 2 - 2, t.cols + 4, t.rows + 4) & cv::Rect(0, 0, level.cols, level.rows);
          if (window.width >= t.cols && window.height >= t.rows) {
            const MatchResult m = best_match(level32(window), t);
            if (!best || m.score > best->score) {
              best_at = {int(std::lround((window.x + m.at.x) / r.shrink)), int(std::lround((window.y + m.at.y) / r.shrink))};
              best = Sighting{int(k), int(l), m.score, best_at, {}};
            }
          }
          // The next candidate lies elsewhere: not within half the template of this one.
          const cv::Rect near(at.x - c.cols / 2, at.y - c.rows / 2, c.cols, c.rows);
          scores(near & cv::Rect(0, 0, scores.cols, scores.rows)).setTo(-1);
        }
      }
    }
    if (!best) return;
    const Rung& r = ladder[size_t(best->rung)];
    log_for("detect")->debug("scale search: frame {}: best {:.3f} at mark width {:.0f} ({}), ({}, {})", f.index,
                             best->score, references[0].cols * r.scale, best->layout ? "mirrored" : "as learned",
                             best_at.x, best_at.y);
    if (best->score < opt.threshold) return;
    // What the refinement needs: the frame around the placement, wide enough for the mark a
    // coarse step larger.
    const int mw = int(std::ceil(references[0].cols * r.scale * opt.step)), mh = int(std::ceil(references[0].rows * r.scale * opt.step));
    const int gx = mw / 5 + 4, gy = mh / 5 + 4;
    const cv::Rect around = cv::Rect(best_at.x - gx, best_at.y - gy, mw + 2 * gx, mh + 2 * gy) & cv::Rect(0, 0, width, height);
    best->crop = luma(around).clone();
    sightings.push_back(std::move(*best));
    decide();
  }

  // Sightings at neighbouring scales (within a step of `rung`) whose place was seen again: a
  // mark stays at a place for seconds; the best match of random texture lands anywhere.
  std::vector<const Sighting*> confirmed(int rung) const {
    const double tolerance = std::max(3.0, 0.15 * references[0].cols * ladder[size_t(rung)].scale);
    std::vector<const Sighting*> out;
    for (const Sighting& s : sightings) {
      if (std::abs(s.rung - rung) > 1) continue;
      const bool again = std::any_of(sightings.begin(), sightings.end(), [&](const Sighting& o) {
        return &o != &s && std::abs(o.rung - rung) <= 1 && std::abs(o.at.x - s.at.x) <= tolerance &&
               std::abs(o.at.y - s.at.y) <= tolerance;
      });
      if (again) out.push_back(&s);
    }
    return out;
  }

  void decide() {
    int best_rung = -1;
    size_t best_count = 0;
    for (size_t k = 0; k < ladder.size(); ++k) {
      const size_t count = confirmed(int(k)).size();
      if (count > best_count) {
        best_count = count;
        best_rung = int(k);
      }
    }
    if (best_count < size_t(opt.agree)) return;
    const std::vector<const Sighting*> agreeing = confirmed(best_rung);
    double mean = 0;
    for (const Sighting* s : agreeing) mean += s->score / double(agreeing.size());
    if (mean < opt.place_threshold) return;
    // Refine at full resolution: the scale whose mark correlates best over all agreeing frames.
    const double centre = ladder[size_t(best_rung)].scale;
    double best_scale = centre, best_sum = -1e9;
    for (int j = -2 * kFineSteps; j <= 2 * kFineSteps; ++j) {
      const double scale = centre * std::pow(opt.step, double(j) / kFineSteps);
      double sum = 0;
      for (const Sighting* s : agreeing) {
        const cv::Mat t = resized(references[size_t(s->layout)], scale);
        if (s->crop.cols < t.cols || s->crop.rows < t.rows) {
          sum = -1e9;
          break;
        }
        sum += best_match(s->crop, t).score;
      }
      if (sum > best_sum) {
        best_sum = sum;
        best_scale = scale;
      }
    }
    const double score = best_sum / double(agreeing.size());
    if (score < opt.accept) return;  // something like the mark, not it: look at more frames
    found = ScaleFound{best_scale, score, int(agreeing.size()), looked};
  }

  const int width, height;
  const ScaleSearchOptions opt;
  std::vector<cv::Mat> references;  // the mark's template per layout, at the profile's size
  std::vector<Rung> ladder;
  std::vector<Sighting> sightings;
  std::optional<ScaleFound> found;
  int looked = 0;
};

ScaleSearch::ScaleSearch(const Profile& profile, int width, int height, const ScaleSearchOptions& options)
    : s_(std::make_unique<State>(profile, width, height, options)) {}

ScaleSearch::~ScaleSearch() = default;

ScaleSearchOptions ScaleSearch::for_glyph() {
  ScaleSearchOptions o;
  // Sora's cloud is a third of its mark: 22 px inside pillarboxed content at 1280x704.
  o.min_width = 12;
  o.min_share = 48;
  o.search_width = 24;
  return o;
}

bool ScaleSearch::observe(const Frame& frame) {
  if (s_->found) return true;
  if (frame.width() != s_->width || frame.height() != s_->height) return false;
  s_->observe(frame);
  if (s_->found) s_->found->looked = s_->looked;
  return s_->found.has_value();
}

std::optional<ScaleFound> ScaleSearch::result() const { return s_->found; }

int ScaleSearch::frames_looked() const { return s_->looked; }

bool ScaleSearch::hopeless() const { return !s_->found && s_->sightings.empty() && s_->looked >= s_->opt.give_up; }

}  // namespace unmark

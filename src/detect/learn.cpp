// Learning a profile from videos.
//
// 1. Locate. The luma gradient's minimum over a window of frames is high only where an edge stays
//    put while the scene moves: the mark's outline, and any scenery that held still. Thresholded
//    and closed, its connected components of a logo's size and shape are candidate boxes.
// 2. Choose. Each distinct candidate is scored by the number of windows whose persistent-edge map
//    holds its pattern of edges anywhere (normalized correlation >= 0.6), plus a bonus for every
//    further place it is found at: an overlay is in nearly every window and often at several
//    places; scenery holds still only for part of a video, in one place. (Edge maps, not mean
//    luma: blurry means of moving scenes correlate with almost anything.)
// 3. Place. The winner's edges locate the mark in every window; each frame of the window then
//    confirms it on its own luma (+-2 px), so frames around a jump, where it is gone, drop out.
// 4. Estimate. Per pixel, each frame gives observed = alpha * colour + (1 - alpha) * background.
//    The background under the mark is estimated by a membrane fill from the ring around the box
//    (right on smooth skies and seas, wrong on texture), so the fit of observed against background
//    over all frames (slope 1 - alpha, intercept alpha * colour) is made robust with Huber
//    weights: frames whose background guess is poor count for little. Chroma colour follows from
//    the alpha found on luma. Then the mark is searched again in every frame with the template
//    this gives (alpha * (colour - grey), which does not depend on the background) and the
//    estimate is redone from all the frames found.
// The estimate is only as good as the backgrounds are varied: a mark always over the same sky
// learns its colour poorly; many frames over changing scenes learn it well.
#include "detect/learn.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/log.h"
#include "detect/match.h"
#include "detect/plane_copy.h"
#include "io/frame_reader.h"
#include "remove/inpaint_kernel.h"

namespace unmark {
namespace {

constexpr float kEdgeThreshold = 18.f;  // persistent gradient magnitude, 8-bit luma per pixel
constexpr int kMargin = 6;              // pixels of background kept around the mark's box

struct LearnFrame {
  cv::Mat y, u, v;  // 8-bit, all at the working size (chroma upsampled)
};

// A candidate found in one window of frames.
struct Window {
  int video = 0, first = 0, count = 0;  // frames [first, first+count) of that video
  cv::Rect box;                         // candidate box at the working size
  double strength = 0;                  // sum of persistent edge inside it
};

std::vector<LearnFrame> read_video(const std::string& path, const LearnOptions& opt, int work_width,
                                   const std::atomic<bool>* cancel) {
  // Every frame until the cap; then every other one kept and half as many taken from there on,
  // so any length ends up with at most 2 * max_frames frames spread over the whole video.
  std::vector<LearnFrame> frames;
  int64_t index = 0;
  int64_t step = 1;
  read_frames(path, [&](Frame& f) {
    if (index++ % step != 0) return true;
    LearnFrame lf;
    double s = double(work_width) / f.width();
    cv::Size size(work_width, int(std::lround(f.height() * s)));
    cv::resize(plane_copy_8bit(f.plane(0)), lf.y, size, 0, 0, cv::INTER_AREA);
    if (f.plane_count() == 3) {
      cv::resize(plane_copy_8bit(f.plane(1)), lf.u, size, 0, 0, cv::INTER_LINEAR);
      cv::resize(plane_copy_8bit(f.plane(2)), lf.v, size, 0, 0, cv::INTER_LINEAR);
    } else {
      lf.u = cv::Mat(size, CV_8U, cv::Scalar(128));
      lf.v = lf.u.clone();
    }
    frames.push_back(std::move(lf));
    if (opt.max_read_frames > 0 && index >= opt.max_read_frames) return false;
    if (int(frames.size()) >= opt.max_frames * 2) {
      // Too many: keep every other one and sample half as often from now on.
      std::vector<LearnFrame> kept;
      for (size_t i = 0; i < frames.size(); i += 2) kept.push_back(std::move(frames[i]));
      frames = std::move(kept);
      step *= 2;
    }
    return true;
  }, cancel);
  return frames;
}

cv::Mat gradient(const cv::Mat& y) {
  cv::Mat blurred, gx, gy, mag;
  cv::GaussianBlur(y, blurred, {3, 3}, 0);
  cv::Sobel(blurred, gx, CV_32F, 1, 0);
  cv::Sobel(blurred, gy, CV_32F, 0, 1);
  cv::magnitude(gx, gy, mag);
  return mag * 0.25f;  // Sobel's gain
}

// The minimum gradient magnitude over a window: high only where an edge stayed in place.
cv::Mat persistent_edges(const std::vector<LearnFrame>& frames, int first, int count) {
  cv::Mat persistent = gradient(frames[size_t(first)].y);
  for (int i = first + 1; i < first + count; ++i) persistent = cv::min(persistent, gradient(frames[size_t(i)].y));
  return persistent;
}

// Candidate boxes of persistent edges in one window.
std::vector<std::pair<cv::Rect, double>> candidates(const std::vector<LearnFrame>& frames, int first,
                                                    int count) {
  cv::Mat persistent = persistent_edges(frames, first, count);
  cv::Mat mask = persistent > kEdgeThreshold;
  const int w = persistent.cols, h = persistent.rows;
  cv::Mat closed;
  cv::morphologyEx(mask, closed, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_RECT, {std::max(3, w / 40), std::max(3, w / 80)}));
  cv::Mat labels, stats, centroids;
  int n = cv::connectedComponentsWithStats(closed, labels, stats, centroids, 8, CV_32S);
  std::vector<std::pair<cv::Rect, double>> out;
  for (int i = 1; i < n; ++i) {
    cv::Rect r(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
               stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    // A logo or handle: a compact, wider-than-tall shape of a few percent of the frame.
    if (r.width < w / 30 || r.width > w / 2 || r.height < 6 || r.height > h / 6) continue;
    double aspect = double(r.width) / r.height;
    if (aspect < 1.2 || aspect > 10) continue;
    if (stats.at<int>(i, cv::CC_STAT_AREA) < r.area() / 8) continue;  // a sparse tangle of scenery
    double strength = cv::sum(persistent(r))[0];
    out.emplace_back(r, strength);
  }
  return out;
}

cv::Mat window_mean(const std::vector<LearnFrame>& frames, const Window& w) {
  cv::Mat sum = cv::Mat::zeros(frames[0].y.size(), CV_32F);
  for (int i = w.first; i < w.first + w.count; ++i) cv::accumulate(frames[size_t(i)].y, sum);
  return sum / double(w.count);
}

// Robust fit of o = k * b + c over samples (Huber weights), returning {k, c}.
std::pair<double, double> robust_line(const std::vector<float>& bg, const std::vector<float>& obs) {
  const size_t n = bg.size();
  std::vector<double> wts(n, 1.0);
  double k = 0, c = 0;
  for (int iter = 0; iter < 6; ++iter) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
      sw += wts[i];
      sx += wts[i] * bg[i];
      sy += wts[i] * obs[i];
      sxx += wts[i] * bg[i] * bg[i];
      sxy += wts[i] * bg[i] * obs[i];
    }
    double mx = sx / sw, my = sy / sw, vx = sxx / sw - mx * mx, cxy = sxy / sw - mx * my;
    if (vx < 60.0) {
      // The background barely varied: assume a white mark (the common case) and fit alpha alone.
      const double white = 235.0;
      double num = 0, den = 0;
      for (size_t i = 0; i < n; ++i) {
        num += wts[i] * (obs[i] - white) * (bg[i] - white);
        den += wts[i] * (bg[i] - white) * (bg[i] - white);
      }
      k = den > 0 ? num / den : 0;
      k = std::clamp(k, 0.0, 1.0);
      c = (1 - k) * white;
    } else {
      k = std::clamp(cxy / vx, 0.0, 1.0);
      c = my - k * mx;
    }
    const double delta = 6.0;
    for (size_t i = 0; i < n; ++i) {
      double r = std::abs(obs[i] - (k * bg[i] + c));
      wts[i] = r <= delta ? 1.0 : delta / r;
    }
  }
  return {k, c};
}

}  // namespace

Profile learn_profile(const std::vector<std::string>& videos, const LearnOptions& opt,
                      LearnReport* report, const std::atomic<bool>* cancel) {
  auto log = log_for("learn");
  if (videos.empty()) throw Error("cli", ErrorKind::usage, "learn needs at least one video");
  LearnReport local;
  LearnReport& rep = report ? *report : local;

  // Working size: the first video's width, capped.
  std::vector<std::vector<LearnFrame>> clips;
  int work_width = 0;
  for (const std::string& path : videos) {
    if (work_width == 0) {
      int w = 0;
      read_frames(path, [&](Frame& f) { w = f.width(); return false; }, cancel);
      work_width = std::min(w, opt.max_width) & ~1;
    }
    clips.push_back(read_video(path, opt, work_width, cancel));
    log->info("read {} frames of '{}' at width {}", clips.back().size(), path, work_width);
  }

  // 1. Locate: candidates per window.
  std::vector<Window> windows;
  for (size_t v = 0; v < clips.size(); ++v) {
    const int n = int(clips[v].size());
    const int win = std::min(opt.window, n);
    for (int first = 0; first + win <= n; first += std::max(1, win / 2)) {
      for (auto& [box, strength] : candidates(clips[v], first, win))
        windows.push_back({int(v), first, win, box, strength});
    }
  }
  if (windows.empty())
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: no edge stayed in place while the scene moved");

  // 2. Choose. Distinct candidates (one per place and size), strongest first; each is scored by
  // the number of windows whose persistent-edge map contains its pattern of edges anywhere
  // (NCC >= 0.6), plus a bonus for each further place it is found at. An overlay is in nearly every
  // window and often at several places; scenery holds still only for part of a video, in one place.
  // (Edge maps, not mean luma: blurry means of moving scenes correlate with almost anything.)
  std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.strength > b.strength; });
  std::vector<Window> distinct;
  for (const Window& w : windows) {
    bool seen = false;
    for (const Window& d : distinct)
      if (std::abs(d.box.x - w.box.x) < 8 && std::abs(d.box.y - w.box.y) < 8 &&
          std::abs(d.box.width - w.box.width) <= 0.2 * d.box.width)
        seen = true;
    if (!seen) distinct.push_back(w);
    if (distinct.size() >= 24) break;
  }
  // Half-size mean luma of every window (without the overlap: every other window).
  const cv::Size work_size = clips[0][0].y.size();
  struct Mean { int video, first, count; cv::Mat full, edges; };
  std::vector<Mean> means;
  for (size_t v = 0; v < clips.size(); ++v) {
    const int n = int(clips[v].size()), win = std::min(opt.window, n);
    for (int first = 0; first + win <= n; first += win) {
      Window w{int(v), first, win, {}, 0};
      Mean m{int(v), first, win, window_mean(clips[v], w), persistent_edges(clips[v], first, win)};
      means.push_back(std::move(m));
    }
  }
  auto grown = [&](cv::Rect r, int margin) {
    return cv::Rect(r.x - margin, r.y - margin, r.width + 2 * margin, r.height + 2 * margin) &
           cv::Rect({0, 0}, work_size);
  };
  double best_score = -1;
  cv::Mat reference, reference_edges;
  cv::Rect ref_box;
  for (const Window& cand : distinct) {
    cv::Rect box = grown(cand.box, kMargin);
    cv::Mat templ = window_mean(clips[size_t(cand.video)], cand)(box).clone();
    cv::Mat small = persistent_edges(clips[size_t(cand.video)], cand.first, cand.count)(box).clone();
    int found = 0;
    double ncc_sum = 0;
    std::vector<cv::Point> places;
    for (const Mean& m : means) {
      auto [score, at] = find_match(m.edges, small);
      if (score < 0.6) continue;
      ++found;
      ncc_sum += score;
      bool known = false;
      for (const cv::Point& p : places)
        if (std::abs(p.x - at.x) < small.cols / 2 && std::abs(p.y - at.y) < small.rows) known = true;
      // Another place counts only when the pattern has left its own: a line of scenery matches
      // itself shifted along the line while it is still there, and scenery that drifts matches
      // weakly: a jumping overlay is all there at its new place.
      if (!known && !places.empty() && (score < 0.8 || best_match(m.edges(box), small).score >= 0.6))
        known = true;
      if (!known) places.push_back(at);
    }
    const double mean_score = found ? ncc_sum / found : 0.0;
    // Between equals, the pattern that matches best on average (scenery that held still drifts).
    const double score = found + 2.0 * (double(places.size()) - 1) + mean_score;
    log->debug("candidate {}x{} at {},{}: in {} of {} windows (mean score {:.2f}), {} places",
               cand.box.width, cand.box.height, cand.box.x, cand.box.y, found, means.size(),
               mean_score, places.size());
    // An overlay's edges are the same in every window; scenery that held still drifts a little.
    // At several exact places it is an overlay that jumps (scenery does not teleport), so it
    // needs to be found in fewer windows.
    const double share = places.size() >= 2 ? opt.min_window_share_moving : opt.min_window_share;
    const bool eligible = mean_score >= opt.min_mean_score && found >= share * double(means.size());
    // Candidates come strongest first; a later one must score clearly better (a part of the same
    // mark matches about as well as the whole of it).
    if (eligible && (best_score < 0 || score > best_score + 0.15)) {
      best_score = score;
      reference = templ;
      reference_edges = small;
      ref_box = box;
    }
  }
  rep.windows_total = int(means.size());
  if (reference.empty())
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: no pattern of edges stayed in place in most of the video");

  // Place the reference in every frame: coarse position from its window's mean, then checked and
  // refined (+-2 px) on the frame itself, so frames around a jump (mark gone) are left out.
  struct Observation { int video, frame; cv::Point at; };
  std::vector<Observation> observations;
  for (const Mean& m : means) {
    auto [score, at] = find_match(m.edges, reference_edges);
    if (score < 0.6) continue;
    ++rep.windows_found;
    for (int i = m.first; i < m.first + m.count; ++i) {
      cv::Rect area = cv::Rect(at.x - 2, at.y - 2, reference.cols + 4, reference.rows + 4) &
                      cv::Rect({0, 0}, work_size);
      if (area.width < reference.cols || area.height < reference.rows) continue;
      auto [s2, at2] = best_match(clips[size_t(m.video)][size_t(i)].y(area), reference);
      if (s2 < 0.7) continue;
      observations.push_back({m.video, i, area.tl() + at2});
    }
  }
  if (observations.empty()) throw Error("learn", ErrorKind::input, "the mark could not be located in any frame");
  ref_box.x = ref_box.y = 0;  // from here on, crops are placed by each observation's position

  // 3. Estimate alpha and colour per pixel from the observed frames; then, with the template
  // that gives (alpha * (colour - grey): independent of the background), locate the mark again in
  // every frame and estimate once more from all of them.
  const cv::Rect mark_in_crop(kMargin, kMargin, ref_box.width - 2 * kMargin, ref_box.height - 2 * kMargin);
  const int npix = ref_box.area();
  cv::Mat alpha, color;
  auto estimate = [&](const std::vector<Observation>& obs) {
    using Samples = std::vector<std::vector<float>>;  // per pixel of the crop, one value per frame
    Samples obs_y(static_cast<size_t>(npix)), bg_y(static_cast<size_t>(npix)),
        obs_u(static_cast<size_t>(npix)), bg_u(static_cast<size_t>(npix)),
        obs_v(static_cast<size_t>(npix)), bg_v(static_cast<size_t>(npix));
    rep.frames_used = 0;
    for (const Observation& ob : obs) {
      cv::Rect crop(ob.at, ref_box.size());
      if ((crop & cv::Rect({0, 0}, work_size)) != crop) continue;
      const LearnFrame& f = clips[size_t(ob.video)][size_t(ob.frame)];
      int c = 0;
      for (const cv::Mat* plane : {&f.y, &f.u, &f.v}) {
        cv::Mat o = (*plane)(crop).clone();
        cv::Mat b = o.clone();
        Box inner{mark_in_crop.x - 1, mark_in_crop.y - 1, mark_in_crop.width + 2, mark_in_crop.height + 2};
        inpaint_box(b.data, ptrdiff_t(b.step), b.cols, b.rows, inner, 0);
        auto& ov = c == 0 ? obs_y : c == 1 ? obs_u : obs_v;
        auto& bv = c == 0 ? bg_y : c == 1 ? bg_u : bg_v;
        for (int p = 0; p < npix; ++p) {
          ov[size_t(p)].push_back(o.data[p]);
          bv[size_t(p)].push_back(b.data[p]);
        }
        ++c;
      }
      ++rep.frames_used;
    }
    alpha = cv::Mat(ref_box.size(), CV_32F, cv::Scalar(0));
    color = cv::Mat(ref_box.size(), CV_32FC3, cv::Scalar(235, 128, 128));
    for (int p = 0; p < npix; ++p) {
      int x = p % ref_box.width, y = p / ref_box.width;
      if (!mark_in_crop.contains({x, y})) continue;  // the ring: background by construction
      auto [k, c] = robust_line(bg_y[size_t(p)], obs_y[size_t(p)]);
      double a = 1.0 - k;
      if (a < 0.03) continue;
      alpha.at<float>(y, x) = float(a);
      cv::Vec3f col;
      col[0] = float(std::clamp(c / a, 0.0, 255.0));
      for (int ch = 1; ch <= 2; ++ch) {
        const auto& o = ch == 1 ? obs_u[size_t(p)] : obs_v[size_t(p)];
        const auto& b = ch == 1 ? bg_u[size_t(p)] : bg_v[size_t(p)];
        std::vector<float> est;
        for (size_t i = 0; i < o.size(); ++i) est.push_back(float((o[i] - (1 - a) * b[i]) / a));
        std::nth_element(est.begin(), est.begin() + long(est.size() / 2), est.end());
        col[ch] = a > 0.1 && !est.empty() ? std::clamp(est[est.size() / 2], 0.f, 255.f) : 128.f;
      }
      color.at<cv::Vec3f>(y, x) = col;
    }
  };
  estimate(observations);

  // Round two: every frame, searched with the background-independent template.
  {
    std::vector<cv::Mat> yuv;
    cv::split(color, yuv);
    cv::Mat templ = alpha.mul(yuv[0] - 128.0f);
    std::vector<Observation> all;
    for (size_t v = 0; v < clips.size(); ++v) {
      for (size_t i = 0; i < clips[v].size(); ++i) {
        auto [score, at] = find_match(clips[v][i].y, templ);
        if (score >= 0.6) all.push_back({int(v), int(i), at});
      }
    }
    log->info("round two: the mark found in {} frames (round one: {})", all.size(), observations.size());
    if (all.size() > observations.size()) {
      observations = std::move(all);
      estimate(observations);
    }
  }

  // Crop to the mark (alpha above noise), one pixel of margin.
  cv::Mat significant = alpha > 0.06f;
  cv::Rect tight = cv::boundingRect(significant);
  // A speck, or a faint haze, is not a mark: what was followed was scenery the fit explained away.
  const double mean_alpha = tight.area() ? cv::mean(alpha(tight))[0] : 0.0;
  if (tight.width < std::max(12, work_size.width / 50) || tight.height < 6 || mean_alpha < 0.1)
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: the estimate is empty or a speck (" +
                    std::to_string(tight.width) + "x" + std::to_string(tight.height) + ")");
  tight.x = std::max(0, tight.x - 1);
  tight.y = std::max(0, tight.y - 1);
  tight.width = std::min(ref_box.width - tight.x, tight.width + 2);
  tight.height = std::min(ref_box.height - tight.y, tight.height + 2);

  Profile profile;
  profile.name = opt.name;
  profile.reference_width = work_size.width;
  profile.reference_height = work_size.height;
  profile.alpha = alpha(tight).clone();
  profile.color = color(tight).clone();
  // Places: observed positions clustered (the mark's centre, as fractions of the frame).
  for (const Observation& ob : observations) {
    cv::Point2d centre(ob.at.x + tight.x + tight.width / 2.0, ob.at.y + tight.y + tight.height / 2.0);
    centre.x /= work_size.width;
    centre.y /= work_size.height;
    bool near = false;
    for (const auto& p : profile.places)
      if (std::hypot(p.x - centre.x, p.y - centre.y) < 0.04) near = true;
    if (!near) profile.places.push_back(centre);
  }
  log->info("learned a {}x{} mark from {} frames in {} windows; {} places", profile.width(),
            profile.height(), rep.frames_used, rep.windows_found, profile.places.size());
  return profile;
}

}  // namespace unmark

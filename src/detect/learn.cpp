// Learning a profile from videos.
//
// 1. Locate. Over a window of frames, the mean of the signed luma gradient, where it kept one
//    direction (its length near the mean length), is high only where an edge stays put: the
//    mark's outline, and any scenery that held still. Edges persistent in enough windows (an
//    overlay comes back to the pixel; scenery that held still for a moment does not), without
//    straight lines longer than any mark (the borders of bars), joined at two reaches (the whole
//    mark; its parts where the wider reach joins it to steady scenery), give candidate boxes.
// 2. Choose. Each distinct candidate's pattern of edges is looked for in every window. It counts
//    only at exact places (to the pixel, in two windows or more), and only as an overlay shows
//    itself: at several places far apart that it leaves in turn (a mark that jumps or moved
//    once; repeated scenery stays), or at one place where the picture around it changes on every
//    side while it stays, with nothing steady in line with it (not a letter of a title whose
//    glow shimmers), or where it vanishes and comes back while the picture around it stays (a
//    mark that blinks; not a caption that arrives once). Scenery in a still shot shows none of
//    these, so on such a video nothing is found: discovery leaves frames alone when unsure. The
//    best scoring candidate is the mark or its most reliable part; the largest candidate that
//    holds it and is found nearly as often is its whole. (Edge maps, not mean luma: blurry means
//    of moving scenes correlate with almost anything.)
// 3. Place. At its places, in the windows that hold it, each frame confirms the mark on its own
//    luma (+-2 px), so frames around a jump, where it is gone, drop out.
// 4. Estimate. Per pixel, each frame gives observed = alpha * colour + (1 - alpha) * background.
//    The background under the mark is estimated by a membrane fill from the ring around the box
//    (right on smooth skies and seas, wrong on texture), so the fit of observed against background
//    over all frames (slope 1 - alpha, intercept alpha * colour) is made robust with Huber
//    weights: frames whose background guess is poor count for little. Where the background never
//    varied the two cannot be told apart and the mark is taken as opaque, as seen. Chroma colour
//    follows from the alpha found on luma. Then the mark is searched again at its places in
//    every frame with the template this gives (alpha * (colour - grey), grey the picture's mean
//    around it) and the estimate is redone from all the frames found.
// The estimate is only as good as the backgrounds are varied: a mark always over the same sky
// learns its colour poorly; many frames over changing scenes learn it well.
#include "detect/learn.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/log.h"
#include "detect/match.h"
#include "detect/plane_copy.h"
#include "io/frame_reader.h"
#include "remove/inpaint_kernel.h"

namespace unmark {
namespace {

// A persistent edge: its gradient's mean over a window at least this strong (8-bit luma per
// pixel), and at least kConsistency of its mean magnitude (it pointed the same way all along).
// The mean, not the minimum: a mark's edge that fades for a few frames over a background of its
// own colour still counts; an edge that moved averages out.
constexpr float kEdgeThreshold = 10.f;
constexpr float kConsistency = 0.6f;
constexpr int kMargin = 6;              // pixels of background kept around the mark's box
// The picture around an overlay changes by at least this much (mean absolute difference of luma,
// 8-bit, between the windows' means or from frame to frame) on every side.
constexpr double kAroundChange = 3.0;
// Or what shows through it moves, by at least this much (mean absolute change of luma from frame
// to frame in a window, 8-bit).
constexpr double kUnderChange = 6.0;
// ... and holds at most this share of steady edges (persistent in most windows) beside it.
constexpr double kSteadyAround = 0.15;

struct LearnFrame {
  cv::Mat y, u, v;  // 8-bit, all at the working size (chroma upsampled)
};

// A candidate found in one window of frames.
struct Window {
  int video = 0, first = 0, count = 0;  // frames [first, first+count) of that video
  cv::Rect box;                         // candidate box at the working size
  double strength = 0;                  // sum of persistent edge inside it
  int support = 0;                      // windows with a candidate at the same place and size
};

// One window's mean luma and persistent edges (windows without overlap).
struct WindowMean {
  int video, first, count;
  cv::Mat full, edges;
  cv::Mat motion;  // window_motion
  cv::Mat steady;  // shared by the windows of one video: persistent edges in most of its windows
};

// Where a pattern sits exactly (to the pixel) in several windows: the top-left of its box.
struct Place {
  cv::Point at;
  std::vector<int> windows;  // indices into the window means
  double score_sum = 0;
  const char* evidence = "";  // what shows it an overlay (for the log)
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

// Edges that stayed in place over a window: the mean signed gradient where it is consistent.
cv::Mat persistent_edges(const std::vector<LearnFrame>& frames, int first, int count) {
  const cv::Size size = frames[size_t(first)].y.size();
  cv::Mat sum_x = cv::Mat::zeros(size, CV_32F), sum_y = sum_x.clone(), sum_mag = sum_x.clone();
  cv::Mat blurred, gx, gy, mag;
  for (int i = first; i < first + count; ++i) {
    cv::GaussianBlur(frames[size_t(i)].y, blurred, {3, 3}, 0);
    cv::Sobel(blurred, gx, CV_32F, 1, 0, 3, 0.25);  // 0.25: Sobel's gain
    cv::Sobel(blurred, gy, CV_32F, 0, 1, 3, 0.25);
    cv::magnitude(gx, gy, mag);
    sum_x += gx;
    sum_y += gy;
    sum_mag += mag;
  }
  cv::Mat mean;
  cv::magnitude(sum_x, sum_y, mean);
  mean /= double(count);
  cv::Mat inconsistent = mean < sum_mag * (kConsistency / double(count));
  mean.setTo(0, inconsistent);
  return mean;
}

// Candidate boxes of persistent edges in one window (`persistent`), among the pixels that are
// persistent edges in enough windows (`steady`: an overlay's edges come back to the pixel, the
// edges of scenery that held still for a moment do not; taken away before shapes are formed, so
// they cannot join a mark beside them into a shape too large to be one).
std::vector<std::pair<cv::Rect, double>> candidates(const cv::Mat& persistent, const cv::Mat& steady) {
  cv::Mat mask = (persistent > kEdgeThreshold) & steady;
  const int w = persistent.cols, h = persistent.rows;
  // Straight edges longer than any mark (the borders of black bars, a horizon held still) would
  // join a mark beside them into one shape too large to be one: taken away first.
  cv::Mat lines_h, lines_v;
  cv::morphologyEx(mask, lines_h, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {w / 2 + 1, 1}));
  cv::morphologyEx(mask, lines_v, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {1, h / 4 + 1}));
  cv::Mat lines = lines_h | lines_v;
  cv::dilate(lines, lines, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  mask.setTo(0, lines);
  // Shapes joined at two reaches: the whole of a mark whose parts stand apart (a glyph and its
  // word), and its parts alone where the wider reach joins it to steady scenery beside it.
  std::vector<std::pair<cv::Rect, double>> out;
  for (const cv::Size reach : {cv::Size(std::max(3, w / 40), std::max(3, w / 80)), cv::Size(3, 3)}) {
    cv::Mat closed;
    cv::morphologyEx(mask, closed, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, reach));
    cv::Mat labels, stats, centroids;
    int n = cv::connectedComponentsWithStats(closed, labels, stats, centroids, 8, CV_32S);
    for (int i = 1; i < n; ++i) {
      cv::Rect r(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                 stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
      // A logo, a badge or a handle: a compact shape of a few percent of the frame, at most
      // square upright.
      if (r.width < std::max(8, w / 40) || r.width > w / 2 || r.height < 5 || r.height > h / 4) continue;
      double aspect = double(r.width) / r.height;
      if (aspect < 0.6 || aspect > 12) continue;
      if (stats.at<int>(i, cv::CC_STAT_AREA) < r.area() / 8) continue;  // a sparse tangle of scenery
      bool known = false;
      for (const auto& o : out) known = known || o.first == r;
      if (!known) out.emplace_back(r, cv::sum(persistent(r))[0]);
    }
  }
  return out;
}

// Whether the picture around `box` changes between the windows that hold it there (an overlay
// over a moving scene), or is a uniform black bar (an overlay in a letterbox): on every side of
// the box inside the frame, or three of four (scenery that held still beside something that moved
// changes on one side or two); or whether the picture under it moves while it holds.
bool changes_around(const std::vector<WindowMean>& means, const std::vector<int>& held, cv::Rect box) {
  const cv::Rect frame({0, 0}, means[size_t(held[0])].full.size());
  const int g = std::max(3, box.height / 3);
  const cv::Rect sides[4] = {{box.x - g, box.y - g, box.width + 2 * g, g}, {box.x - g, box.br().y, box.width + 2 * g, g},
                             {box.x - g, box.y, g, box.height}, {box.br().x, box.y, g, box.height}};
  int available = 0, changed = 0, dark = 0;
  for (const cv::Rect& side : sides) {
    const cv::Rect r = side & frame;
    if (r.width < std::max(2, g / 2) || r.height < std::max(2, g / 2)) continue;  // cut off by the frame's edge
    ++available;
    double most = 0, moving = 0;
    bool black = true;
    const cv::Mat first = means[size_t(held[0])].full(r);
    for (int k : held) {
      if ((r & cv::Rect({0, 0}, means[size_t(k)].full.size())) != r) continue;  // a video of another height
      cv::Mat diff;
      cv::absdiff(means[size_t(k)].full(r), first, diff);
      most = std::max(most, cv::mean(diff)[0]);
      moving += cv::mean(means[size_t(k)].motion(r))[0] / double(held.size());
      cv::Scalar mean, dev;
      cv::meanStdDev(means[size_t(k)].full(r), mean, dev);
      black = black && mean[0] < 32 && dev[0] < 4;
    }
    // From window to window, or from frame to frame within the windows (a fast scene: its
    // window means all look alike).
    changed += most >= kAroundChange || moving >= kAroundChange;
    dark += black;
  }
  if (available < 2) return false;
  if (dark == available) {
    log_for("learn")->debug("around {}x{} at {},{}: a black bar", box.width, box.height, box.x, box.y);
    return true;
  }
  // Steady structure in line with it (the letters beside a letter of a title whose colours
  // shimmer) makes it a part of the picture, whatever else changes: a mark stands alone, with
  // nothing steady one box to its left or to its right.
  const cv::Mat& steady = means[size_t(held[0])].steady;
  double steady_share = 0;
  for (const int side : {-1, 1}) {
    const cv::Rect band = cv::Rect(box.x + side * box.width, box.y, box.width, box.height) & frame;
    if (band.area() * 4 < box.area()) continue;
    steady_share = std::max(steady_share, double(cv::countNonZero(steady(band))) / band.area());
  }
  // What moves under it while it stays on top (a hand passing under a handle): scenery that
  // something passes over is hidden, so its edges would not have held in those windows.
  double under = 0;
  for (int k : held)
    if (means[size_t(k)].video == means[size_t(held[0])].video)
      under = std::max(under, cv::mean(means[size_t(k)].motion(box & frame))[0]);
  log_for("learn")->debug("around {}x{} at {},{}: {} of {} sides change, {:.1f} under it, steady share beside it {:.2f}",
                          box.width, box.height, box.x, box.y, changed, available, under, steady_share);
  // Every side, or three of four (a mark low over a shirt that holds still below it; where the
  // frame's edge cuts a side off, what is left must all change).
  const bool around = changed == available || (available == 4 && changed == 3);
  return (around || under >= kUnderChange) && steady_share < kSteadyAround;
}

// Whether `pattern` (persistent edges), held at `box` in the windows `held`, is gone from there
// in some window between two that hold it, whose picture around the box is the one it had while
// held: a mark that blinks or fades out and back. (Gone before it first shows, or after it last
// shows, is what content does that arrives or leaves: a caption, a title, an end card.)
bool vanishes_in_place(const std::vector<WindowMean>& means, const std::vector<int>& held, cv::Rect box,
                       const cv::Mat& pattern) {
  if (held.empty()) return false;
  const cv::Rect frame({0, 0}, means[size_t(held[0])].full.size());
  const cv::Rect near = cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2) & frame;
  if (near.width < pattern.cols || near.height < pattern.rows || held.size() < 2) return false;
  const int g = std::max(3, box.height / 3);
  const cv::Rect around = cv::Rect(box.x - g, box.y - g, box.width + 2 * g, box.height + 2 * g) & frame;
  cv::Mat ring(around.size(), CV_8U, cv::Scalar(255));
  ring(cv::Rect(box.tl() - around.tl(), box.size()) & cv::Rect({0, 0}, around.size())).setTo(0);
  const auto [first, last] = std::minmax_element(held.begin(), held.end());
  for (int k = *first + 1; k < *last; ++k) {
    if (std::find(held.begin(), held.end(), k) != held.end()) continue;
    if (means[size_t(k)].video != means[size_t(*first)].video) continue;
    if (best_match(means[size_t(k)].edges(near), pattern).score >= 0.3) continue;
    double least = 1e9;  // the closest picture around it among the windows that held it
    for (int h : held) {
      if (means[size_t(h)].video != means[size_t(k)].video) continue;
      cv::Mat diff;
      cv::absdiff(means[size_t(k)].full(around), means[size_t(h)].full(around), diff);
      least = std::min(least, cv::mean(diff, ring)[0]);
    }
    if (least < kAroundChange) return true;
  }
  return false;
}

// The exact places of `pattern` (persistent edges) over the windows: where it sits to the pixel
// in two windows or more. A place other than the most held one counts only where the pattern has
// left that one (a mark that jumps or moved; repeated scenery stays), far from it; with
// `needs_change`, a single place only where it shows itself an overlay (changes_around,
// vanishes_in_place). `strict` (an unknown video): see below.
std::vector<Place> exact_places(const std::vector<WindowMean>& means, const cv::Mat& pattern, bool needs_change,
                                bool strict) {
  std::vector<Place> places;
  for (size_t k = 0; k < means.size(); ++k) {
    if (means[k].edges.cols < pattern.cols || means[k].edges.rows < pattern.rows) continue;
    const MatchResult match = find_match(means[k].edges, pattern);
    const double score = match.score;
    const cv::Point at = match.at;
    if (score < 0.6) continue;
    auto p = std::find_if(places.begin(), places.end(), [&](const Place& q) {
      return std::abs(q.at.x - at.x) <= 1 && std::abs(q.at.y - at.y) <= 1;
    });
    if (p == places.end()) p = places.insert(places.end(), Place{at});
    p->windows.push_back(int(k));
    p->score_sum += score;
  }
  // Held in two windows or more; when learning from videos known to carry a mark (not
  // `strict`), a place held in one window also counts beside such a place when matched
  // there nearly exactly (a mark that jumps there for a moment).
  std::sort(places.begin(), places.end(), [](const Place& a, const Place& b) { return a.windows.size() > b.windows.size(); });
  const size_t least = std::min<size_t>(2, means.size());
  const bool held = !places.empty() && places[0].windows.size() >= least;
  places.erase(std::remove_if(places.begin(), places.end(),
                              [&](const Place& p) {
                                return !held || (p.windows.size() < least && (strict || p.score_sum < 0.9));
                              }),
               places.end());
  if (places.size() > 1) {
    const cv::Rect frame({0, 0}, means[0].edges.size());
    const cv::Rect first = cv::Rect(places[0].at.x - 1, places[0].at.y - 1, pattern.cols + 2, pattern.rows + 2) & frame;
    places.erase(std::remove_if(places.begin() + 1, places.end(),
                                [&](const Place& p) {
                                  // Far from the first: a mark jumps across the frame; an object
                                  // shifted by less than its size, or a letter repeated beside
                                  // it, is the picture's own.
                                  if (std::abs(p.at.x - places[0].at.x) < pattern.cols * 3 / 2 &&
                                      std::abs(p.at.y - places[0].at.y) < pattern.rows * 3 / 2)
                                    return true;
                                  // Gone from each place while at the other (both ways).
                                  const cv::Rect here =
                                      cv::Rect(p.at.x - 1, p.at.y - 1, pattern.cols + 2, pattern.rows + 2) & frame;
                                  auto gone = [&](const cv::Rect& from, const std::vector<int>& while_in) {
                                    size_t left = 0;
                                    for (int k : while_in) {
                                      // (Videos learned from together may differ in height.)
                                      const cv::Rect r = from & cv::Rect({0, 0}, means[size_t(k)].edges.size());
                                      left += r.width < pattern.cols || r.height < pattern.rows ||
                                              best_match(means[size_t(k)].edges(r), pattern).score < 0.5;
                                    }
                                    return 2 * left >= while_in.size();
                                  };
                                  return !gone(first, p.windows) || !gone(here, places[0].windows);
                                }),
                 places.end());
  }
  // On an unknown video a pattern this small (a stroke or two) repeats in a picture by chance: it
  // is not taken to jump.
  const bool tiny = pattern.cols - 2 * kMargin < 16 || pattern.rows - 2 * kMargin < 7;
  if (places.size() > 1 && tiny && strict) places.resize(1);
  // Several places it leaves in turn show it an overlay by themselves. One place: it must show
  // itself one there, by the picture around it changing while it stays, or by its vanishing
  // while the picture around it stays (a mark that fades or blinks; scenery does not).
  if (places.size() > 1) {
    for (Place& p : places) p.evidence = "it leaves one place for another";
  } else if (places.size() == 1) {
    const cv::Rect box(places[0].at, pattern.size());
    log_for("learn")->debug("one place at {},{} held in {} windows", places[0].at.x, places[0].at.y, places[0].windows.size());
    if (changes_around(means, places[0].windows, box)) places[0].evidence = "the picture around it changes while it stays (or it sits on a black bar)";
    else if (vanishes_in_place(means, places[0].windows, box, pattern))
      places[0].evidence = "it vanishes and comes back while the picture around it stays";
    else if (needs_change) places.clear();
  }
  return places;
}

cv::Mat window_mean(const std::vector<LearnFrame>& frames, const Window& w) {
  cv::Mat sum = cv::Mat::zeros(frames[0].y.size(), CV_32F);
  for (int i = w.first; i < w.first + w.count; ++i) cv::accumulate(frames[size_t(i)].y, sum);
  return sum / double(w.count);
}

// The mean absolute change from frame to frame over a window (a fast scene's window means all
// look alike: its motion shows here).
cv::Mat window_motion(const std::vector<LearnFrame>& frames, int first, int count) {
  cv::Mat sum = cv::Mat::zeros(frames[size_t(first)].y.size(), CV_32F), diff;
  for (int i = first + 1; i < first + count; ++i) {
    cv::absdiff(frames[size_t(i)].y, frames[size_t(i - 1)].y, diff);
    cv::accumulate(diff, sum);
  }
  return sum / double(std::max(1, count - 1));
}

// Robust fit of o = k * b + c over samples (Huber weights), returning {k, c}. `coloured`: the
// samples' chroma moved away from grey where the mark is (it is not white or black).
std::pair<double, double> robust_line(const std::vector<float>& bg, const std::vector<float>& obs, bool coloured) {
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
      // The background barely varied: alpha and colour cannot be told apart from luma alone.
      // Brighter than its background and grey, the mark is taken as white (the common case) and
      // its alpha fitted; darker and grey, as black; coloured, as opaque and as seen (right in
      // sign and footprint, and what a fill needs).
      double sd = 0;
      for (size_t i = 0; i < n; ++i) sd += wts[i] * (obs[i] - bg[i]);
      sd /= sw;
      if (std::abs(sd) < 8.0) {
        k = 1.0;
        c = 0.0;
      } else if (coloured) {
        k = 0.0;
        c = my;
      } else {
        const double ink = sd > 0 ? 235.0 : 16.0;
        double num = 0, den = 0;
        for (size_t i = 0; i < n; ++i) {
          num += wts[i] * (obs[i] - ink) * (bg[i] - ink);
          den += wts[i] * (bg[i] - ink) * (bg[i] - ink);
        }
        k = den > 0 ? std::clamp(num / den, 0.0, 1.0) : 0.0;
        c = (1 - k) * ink;
      }
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

  // 1. Locate: candidates per window, each with the number of windows holding a candidate at the
  // same place (an overlay's box comes back to the pixel; scenery's drifts).
  std::vector<Window> windows;
  for (size_t v = 0; v < clips.size(); ++v) {
    const int n = int(clips[v].size());
    const int win = std::min(opt.window, n);
    std::vector<std::pair<int, cv::Mat>> persistent;  // per window: its first frame, its edges
    for (int first = 0; first + win <= n; first += std::max(1, win / 2))
      persistent.emplace_back(first, persistent_edges(clips[v], first, win));
    if (persistent.empty()) continue;
    cv::Mat count = cv::Mat::zeros(persistent[0].second.size(), CV_16U);
    for (const auto& p : persistent) cv::add(count, p.second > kEdgeThreshold, count, cv::noArray(), CV_16U);
    // Scaled: a mask adds 255. In a fifth of the windows (a mark that jumps between four or five
    // places holds each that long), at least two.
    const double least = 255.0 * std::max(2.0, 0.2 * double(persistent.size()));
    cv::Mat steady = count >= least;
    for (const auto& [first, edges] : persistent)
      for (auto& [box, strength] : candidates(edges, steady)) windows.push_back({int(v), first, win, box, strength});
  }
  if (windows.empty())
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: no edge stayed in place while the scene moved");
  for (Window& w : windows)
    for (const Window& o : windows)
      w.support += std::abs(o.box.x - w.box.x) <= 2 && std::abs(o.box.y - w.box.y) <= 2 &&
                   std::abs(o.box.width - w.box.width) <= 0.2 * w.box.width;

  // 2. Choose. Distinct candidates (one per place and size), the most often seen first; each is
  // scored by the windows whose persistent-edge map holds its pattern of edges (NCC >= 0.6) at one
  // of its exact places: a place is where the pattern sits to the pixel in two windows or more (an
  // overlay does not drift), another place counts only where the pattern has left the first (a
  // jumping mark; repeated scenery stays), and the picture around a place must change between the
  // windows that hold it (an overlay over a moving scene; scenery that held still has still
  // surroundings) unless it sits on a black bar. (Edge maps, not mean luma: blurry means of moving
  // scenes correlate with almost anything.)
  std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) {
    return a.support != b.support ? a.support > b.support : a.strength > b.strength;
  });
  std::vector<Window> distinct;
  for (const Window& w : windows) {
    bool seen = false;
    for (const Window& d : distinct)
      if (std::abs(d.box.x - w.box.x) < 8 && std::abs(d.box.y - w.box.y) < 8 &&
          std::abs(d.box.width - w.box.width) <= 0.2 * d.box.width)
        seen = true;
    if (!seen) distinct.push_back(w);
    if (distinct.size() >= 40) break;
  }
  // Mean luma and persistent edges of every window (without the overlap: every other window).
  const cv::Size work_size = clips[0][0].y.size();
  std::vector<WindowMean> means;
  for (size_t v = 0; v < clips.size(); ++v) {
    const int n = int(clips[v].size()), win = std::min(opt.window, n);
    for (int first = 0; first + win <= n; first += win) {
      Window w{int(v), first, win, {}, 0, 0};
      means.push_back({int(v), first, win, window_mean(clips[v], w), persistent_edges(clips[v], first, win),
                       window_motion(clips[v], first, win), {}});
    }
  }
  for (size_t v = 0; v < clips.size(); ++v) {
    cv::Mat count;
    int windows_of_video = 0;
    for (const WindowMean& m : means) {
      if (m.video != int(v)) continue;
      if (count.empty()) count = cv::Mat::zeros(m.edges.size(), CV_16U);
      cv::add(count, m.edges > kEdgeThreshold, count, cv::noArray(), CV_16U);
      ++windows_of_video;
    }
    if (count.empty()) continue;
    const cv::Mat steady = count >= 255.0 * 0.6 * windows_of_video;
    for (WindowMean& m : means)
      if (m.video == int(v)) m.steady = steady;
  }
  auto grown = [&](cv::Rect r, int margin) {
    return cv::Rect(r.x - margin, r.y - margin, r.width + 2 * margin, r.height + 2 * margin) &
           cv::Rect({0, 0}, work_size);
  };
  // Every eligible candidate; the best scoring is the mark (or its most reliable part), and the
  // largest that holds it at one of its places, is found nearly as often and was a candidate in
  // half as many windows is its whole (a part matches at least as often as the whole, and the
  // whole is what must be removed; the mark joined to scenery beside it for a moment is not).
  struct Eligible {
    cv::Mat templ, edges;
    cv::Rect box;
    std::vector<Place> places;
    int found, support;
    double score;
  };
  std::vector<Eligible> eligible;
  for (const Window& cand : distinct) {
    cv::Rect box = grown(cand.box, kMargin);
    cv::Mat small = persistent_edges(clips[size_t(cand.video)], cand.first, cand.count)(box).clone();
    std::vector<Place> places = exact_places(means, small, opt.require_background_change, opt.discovering);
    int found = 0;
    double ncc_sum = 0;
    for (const Place& p : places) {
      found += int(p.windows.size());
      ncc_sum += p.score_sum;
    }
    const double mean_score = found ? ncc_sum / found : 0.0;
    const double score = found + 2.0 * (double(places.size()) - 1) + mean_score;
    log->debug("candidate {}x{} at {},{} (seen in {} windows): at {} exact places in {} of {} windows (mean score {:.2f})",
               cand.box.width, cand.box.height, cand.box.x, cand.box.y, cand.support, places.size(), found,
               means.size(), mean_score);
    const double share = places.size() >= 2 ? opt.min_window_share_moving : opt.min_window_share;
    if (!places.empty() && mean_score >= opt.min_mean_score && found >= share * double(means.size()))
      eligible.push_back({window_mean(clips[size_t(cand.video)], cand)(box).clone(), small, box, std::move(places),
                          found, cand.support, score});
  }
  rep.windows_total = int(means.size());
  if (eligible.empty())
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: no pattern of edges stayed exactly in place (over a changing "
                "picture) in most of the video");
  // Candidates come the most often seen first: a later one must score clearly better.
  size_t best = 0;
  for (size_t i = 1; i < eligible.size(); ++i)
    if (eligible[i].score > eligible[best].score + 0.15) best = i;
  auto holds = [](const Eligible& whole, const Eligible& part) {
    for (const Place& p : whole.places)
      for (const Place& q : part.places) {
        const cv::Rect outer(p.at.x - 2, p.at.y - 2, whole.box.width + 4, whole.box.height + 4);
        const cv::Rect inner(q.at, part.box.size());
        if ((outer & inner) == inner && inner.area() < whole.box.area()) return true;
      }
    return false;
  };
  size_t whole = best;
  for (size_t i = 0; i < eligible.size(); ++i)
    if (eligible[i].box.area() > eligible[whole].box.area() && eligible[i].found * 10 >= eligible[best].found * 7 &&
        eligible[i].support * 2 >= eligible[best].support && holds(eligible[i], eligible[best]))
      whole = i;
  cv::Mat reference = eligible[whole].templ, reference_edges = eligible[whole].edges;
  cv::Rect ref_box = eligible[whole].box;
  std::vector<Place> ref_places = std::move(eligible[whole].places);
  log->info("the mark: {}x{} at {} place{}, in {} of {} windows; an overlay since {}", ref_box.width - 2 * kMargin,
            ref_box.height - 2 * kMargin, ref_places.size(), ref_places.size() == 1 ? "" : "s", eligible[whole].found,
            means.size(), ref_places[0].evidence);


  // Place the reference in every frame of the windows that hold it, at its place there, checked
  // and refined (+-2 px) on the frame itself, so frames around a jump (mark gone) are left out.
  struct Observation { int video, frame; cv::Point at; };
  std::vector<Observation> observations;
  for (const Place& place : ref_places) {
    for (int k : place.windows) {
      const WindowMean& m = means[size_t(k)];
      ++rep.windows_found;
      for (int i = m.first; i < m.first + m.count; ++i) {
        cv::Rect area = cv::Rect(place.at.x - 2, place.at.y - 2, reference.cols + 4, reference.rows + 4) &
                        cv::Rect({0, 0}, clips[size_t(m.video)][size_t(i)].y.size());
        if (area.width < reference.cols || area.height < reference.rows) continue;
        auto [s2, at2] = best_match(clips[size_t(m.video)][size_t(i)].y(area), reference);
        if (s2 < 0.7) continue;
        observations.push_back({m.video, i, area.tl() + at2});
      }
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
      const LearnFrame& f = clips[size_t(ob.video)][size_t(ob.frame)];
      if ((crop & cv::Rect({0, 0}, f.y.size())) != crop) continue;
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
      // Its chroma away from grey, beyond the background's: a coloured mark.
      double chroma_obs = 0, chroma_bg = 0;
      for (size_t i = 0; i < obs_u[size_t(p)].size(); ++i) {
        chroma_obs += std::abs(obs_u[size_t(p)][i] - 128.f) + std::abs(obs_v[size_t(p)][i] - 128.f);
        chroma_bg += std::abs(bg_u[size_t(p)][i] - 128.f) + std::abs(bg_v[size_t(p)][i] - 128.f);
      }
      const bool coloured = chroma_obs > chroma_bg + 10.0 * double(obs_u[size_t(p)].size());
      auto [k, c] = robust_line(bg_y[size_t(p)], obs_y[size_t(p)], coloured);
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

  // The picture's mean luma around the mark where it was seen: what the mark is matched against
  // (Profile::template_grey).
  double ring_sum = 0, ring_count = 0;
  {
    cv::Mat ring(ref_box.size(), CV_8U, cv::Scalar(255));
    ring(mark_in_crop).setTo(0);
    for (const Observation& ob : observations) {
      const cv::Rect crop(ob.at, ref_box.size());
      if ((crop & cv::Rect({0, 0}, clips[size_t(ob.video)][size_t(ob.frame)].y.size())) != crop) continue;
      ring_sum += cv::mean(clips[size_t(ob.video)][size_t(ob.frame)].y(crop), ring)[0];
      ++ring_count;
    }
  }
  const float grey = ring_count > 0 ? float(ring_sum / ring_count) : 128.f;

  // Round two: every frame, searched with the background-independent template.
  {
    std::vector<cv::Mat> yuv;
    cv::split(color, yuv);
    cv::Mat templ = alpha.mul(yuv[0] - grey);
    std::vector<Observation> all;
    for (size_t v = 0; v < clips.size(); ++v) {
      for (size_t i = 0; i < clips[v].size(); ++i) {
        // At the places found only: what resembles the mark elsewhere is the video's own.
        std::optional<Observation> best;
        double best_score = 0.6;
        for (const Place& place : ref_places) {
          const cv::Rect area = cv::Rect(place.at.x - 3, place.at.y - 3, templ.cols + 6, templ.rows + 6) &
                                cv::Rect({0, 0}, clips[v][i].y.size());
          if (area.width < templ.cols || area.height < templ.rows) continue;
          auto [score, at] = best_match(clips[v][i].y(area), templ);
          if (score >= best_score) {
            best_score = score;
            best = Observation{int(v), int(i), area.tl() + at};
          }
        }
        if (best) all.push_back(*best);
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
  // (The mean over the pixels it draws: text is sparse in its box, a haze is faint everywhere.)
  const double mean_alpha = tight.area() ? cv::mean(alpha(tight), significant(tight))[0] : 0.0;
  if (tight.width < std::max(12, work_size.width / 50) || tight.height < 6 || mean_alpha < 0.15)
    throw Error("learn", ErrorKind::input,
                "no persistent mark found: the estimate is empty, a speck or a haze (" + std::to_string(tight.width) +
                    "x" + std::to_string(tight.height) + ", mean alpha " +
                    std::to_string(int(std::lround(mean_alpha * 100))) + "%)");
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
  profile.template_grey = grey;
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

// Reverse alpha blending: undo the mark where it is translucent, paint only where it is not.
//
// A mark composited with opacity a and colour C leaves observed = a*C + (1-a)*original, so
// original = (observed - a*C) / (1-a): the real pixels come back exactly, up to compression noise
// amplified by 1/(1-a), and so is any error in the profile's alpha and colour. Above kOpaque that
// amplification (2.5x and more) makes the recovered pixel worse than a good guess for a learned
// profile, so those pixels are inpainted from the recovered ones around them, as
// are clipped samples (a saturated observation says only "at least this bright"). Blending is
// affine, so the same holds in Y, U and V; chroma uses the alpha and colour averaged over the
// luma samples each chroma sample covers. A frame's box is the profile's size, so the alpha lines
// up with it pixel for pixel: a profile measured on the video itself (detect/refine.h) is on the
// frame's own pixel grid, which is what makes the undoing exact.
#include <opencv2/imgproc.hpp>

#include <map>

#include "core/log.h"
#include "detect/blend_test.h"
#include "detect/profile.h"
#include "remove/halo.h"
#include "remove/inpaint_kernel.h"
#include "remove/inpaint_remover.h"

namespace unmark {
namespace {

constexpr float kOpaque = 0.6f;     // at or above: inpaint instead of undoing the blend
constexpr float kVisible = 0.004f;  // below: the mark left no trace to undo
constexpr float kClipped = 0.985f;  // observed at or above this share of full scale: clipped
constexpr int kSpeck = 16;          // 8-bit levels an undone sample may stand apart from (all but one of) its neighbours

// The mark's alpha and alpha-weighted colour channel over `pb` of a plane subsampled by (sx, sy),
// for a mark whose luma box is `box` (inside the plane box's luma area; alpha 0 around it).
// `undo` (CV_8U, empty when the mark has no such map) is 255 where undoing is to be used.
void plane_appearance(const ScaledMark& m, const Box& box, const Box& pb, int sx, int sy, int channel,
                      cv::Mat& alpha, cv::Mat& color, cv::Mat& undo) {
  std::vector<cv::Mat> yuv;
  cv::split(m.color, yuv);
  // Luma-resolution canvas covering the plane's box exactly, then averaged down.
  cv::Size canvas_size(pb.w << sx, pb.h << sy);
  cv::Mat a = cv::Mat::zeros(canvas_size, CV_32F), ac = cv::Mat::zeros(canvas_size, CV_32F);
  cv::Rect at(box.x - (pb.x << sx), box.y - (pb.y << sy), m.alpha.cols, m.alpha.rows);
  m.alpha.copyTo(a(at));
  cv::Mat premultiplied = m.alpha.mul(yuv[size_t(channel)]);
  premultiplied.copyTo(ac(at));
  if (sx == 0 && sy == 0) {
    alpha = a;
    color = ac;
  } else {
    cv::resize(a, alpha, {pb.w, pb.h}, 0, 0, cv::INTER_AREA);
    cv::resize(ac, color, {pb.w, pb.h}, 0, 0, cv::INTER_AREA);
  }
  color = color / cv::max(alpha, 1e-6f);
  if (m.undo.empty()) return;
  // A chroma sample is undone only where all the luma samples it covers are.
  cv::Mat u = cv::Mat::zeros(canvas_size, CV_8U);
  m.undo.copyTo(u(at));
  cv::Mat kept;
  cv::erode(u, kept, cv::getStructuringElement(cv::MORPH_RECT, {2 << sx >> 1 | 1, 2 << sy >> 1 | 1}));
  cv::resize(kept, undo, {pb.w, pb.h}, 0, 0, cv::INTER_NEAREST);
}

// What removing the mark changes, at luma resolution over the luma `area` (CV_8U, 0 or 255):
// every sample it touches (alpha above kVisible), and around the part that is to be painted
// (opaque, or where undoing lost to painting) the reach of its compression ringing and soft
// edge. Painting starts from the samples around what it paints: left as they were, those carry
// the mark's halo inward, a pale ghost of the whole shape. Around what is undone the ringing is
// undone with it, and the real background there stays.
// `painted` is set to the part to be painted, its ring included.
cv::Mat removal_canvas(const Box& area, const Box& box, const ScaledMark& m, bool undo_all, cv::Mat& painted) {
  cv::Mat alpha = cv::Mat::zeros(area.h, area.w, CV_32F);
  const cv::Rect at(box.x - area.x, box.y - area.y, box.w, box.h);
  m.alpha.copyTo(alpha(at));
  cv::Mat touched = alpha >= kVisible;
  painted = alpha >= kOpaque;
  if (!undo_all && !m.undo.empty()) {
    cv::Mat lost = cv::Mat::zeros(area.h, area.w, CV_8U);
    lost(at).setTo(255, m.undo == 0);
    painted |= lost & touched;
  }
  dilate_by_footprint_reach(painted);
  return touched | painted;
}

// Undoes the blend in place where it is translucent, over the samples `holes` marks; leaves
// marked only the samples still to fill (opaque, clipped, or where undoing loses to painting).
template <class T>
void deblend_plane(const PlaneView& plane, const cv::Mat& alpha, const cv::Mat& color, const cv::Mat& undo,
                   PlaneHoles& holes) {
  const Box& pb = holes.box;
  const float scale = float(1 << (plane.bit_depth - 8));
  const float max_value = float(plane.max_value());
  std::vector<uint8_t> undone(holes.mask.size(), 0);
  std::vector<size_t> specks;
  for (int y = 0; y < pb.h; ++y) {
    T* row = reinterpret_cast<T*>(plane.data + (pb.y + y) * plane.stride) + pb.x;
    for (int x = 0; x < pb.w; ++x) {
      uint8_t& hole = holes.mask[size_t(y) * pb.w + x];
      if (!hole) continue;
      const float a = alpha.at<float>(y, x);
      const float observed = float(row[x]);
      // Left to fill: opaque, clipped, where undoing lost to painting, and the ring around what
      // is painted (removal_canvas), where the mark's alpha is nil.
      if (a < kVisible || a >= kOpaque || observed >= kClipped * max_value ||
          (!undo.empty() && !undo.at<uint8_t>(y, x)))
        continue;
      const float original = (observed - a * color.at<float>(y, x) * scale) / (1.f - a);
      row[x] = T(std::clamp(std::lround(original), 0L, long(max_value)));
      hole = 0;
      undone[size_t(y) * pb.w + x] = 1;
    }
  }
  // A sample the undoing left far from all its known neighbours but one (a speck may be two
  // samples) on the same side is noise, or an alpha a little off at an edge, amplified by
  // 1 / (1 - alpha): a dark or bright speck. It is filled with the rest instead.
  const int limit = int(kSpeck * scale);
  for (int y = 0; y < pb.h; ++y) {
    for (int x = 0; x < pb.w; ++x) {
      if (!undone[size_t(y) * pb.w + x]) continue;
      const int fx = pb.x + x, fy = pb.y + y;
      if (fx < 1 || fy < 1 || fx + 1 >= plane.width || fy + 1 >= plane.height) continue;
      const int v = reinterpret_cast<const T*>(plane.data + fy * plane.stride)[fx];
      int above = 0, below = 0, known = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if (dx == 0 && dy == 0) continue;
          if (holes.unknown(fx + dx, fy + dy)) continue;
          const int n = reinterpret_cast<const T*>(plane.data + (fy + dy) * plane.stride)[fx + dx];
          ++known;
          above += n > v + limit;
          below += n < v - limit;
        }
      if (known >= 6 && (above >= known - 1 || below >= known - 1)) specks.push_back(size_t(y) * pb.w + x);
    }
  }
  for (size_t i : specks) holes.mask[i] = 1;
}

// The mark's appearance shifted by a fraction of a sample. A half-sample misalignment leaves a
// ghost of the mark's edges when the blend is undone, and a mark drawn at fractional positions
// (a scrolling or sliding overlay) is found at whole ones. So each frame's mark is undone with the
// shift whose undoing leaves its translucent edges smoothest: over the unshifted mark's
// translucent edges (detect/blend_test.h; the same edges for every shift, so the sums compare),
// the squared step between the two samples undone, each capped (an edge on the background's own
// edge counts the same for every shift). Shifts are resampled with a Lanczos kernel: a bilinear
// half-sample shift also blurs the mark.
class SubpixelAligner {
 public:
  // The appearance best aligned with `frame`'s mark (`mark`'s own when none is better).
  std::shared_ptr<const ScaledMark> align(const Frame& frame, const Mark& mark) {
    const Candidates& c = candidates(mark.appearance);
    if (c.edges.empty()) return mark.appearance;
    const PlaneView luma = frame.plane(0);
    const float scale = 1.f / float(1 << (luma.bit_depth - 8));
    auto seen = [&](int x, int y) {
      const int fx = mark.box.x + x, fy = mark.box.y + y;
      return luma.wide() ? float(reinterpret_cast<const uint16_t*>(luma.data + fy * luma.stride)[fx]) * scale
                         : float(luma.data[fy * luma.stride + fx]);
    };
    double best_cost = 0;
    size_t best = 0;
    for (size_t k = 0; k < c.shifted.size(); ++k) {  // nearest to no shift first
      const ScaledMark& m = *c.shifted[k];
      auto undone = [&](int x, int y) {
        const float a = std::min(m.alpha.at<float>(y, x), 0.95f);
        return (seen(x, y) - a * c.luma[k].at<float>(y, x)) / (1 - a);
      };
      double cost = 0;
      for (size_t e = 0; e < c.edges.size(); ++e) {
        const AlphaEdge& edge = c.edges[e];
        const float step = (undone(edge.ax, edge.ay) - undone(edge.bx, edge.by)) * c.weights[e];
        cost += std::min(step * step, kCap * kCap);
      }
      if (k == 0 || cost < best_cost * (1 - kBetter)) {
        best_cost = cost;
        best = k;
      }
    }
    return c.shifted[best];
  }

 private:
  static constexpr float kStep = 0.25f;    // samples between the shifts tried, up to half a sample
  static constexpr double kBetter = 0.02;  // share of the cost a shift must save over a smaller one
  static constexpr float kCap = 6.f;       // 8-bit levels: a step beyond is the background's own
  struct Candidates {
    std::vector<AlphaEdge> edges;                             // of the unshifted mark
    std::vector<float> weights;                               // per edge: 1 - the larger alpha (observed levels)
    std::vector<std::shared_ptr<const ScaledMark>> shifted;  // [0]: the mark itself
    std::vector<cv::Mat> luma;                                // each one's luma colour
  };

  // The shifted appearances of `mark`, made once per appearance (every frame's mark shares it).
  const Candidates& candidates(const std::shared_ptr<const ScaledMark>& mark) {
    auto it = cache_.find(mark.get());
    if (it != cache_.end()) return it->second;
    if (cache_.size() > 8) cache_.clear();  // appearances come and go with segments' profiles
    Candidates& out = cache_[mark.get()];
    const cv::Mat& alpha = mark->alpha;
    std::vector<AlphaEdge> edges = translucent_edges(alpha);
    if (edges.size() < kMinAlphaEdges) return out;  // nothing translucent to judge by
    out.edges = std::move(edges);
    for (const AlphaEdge& e : out.edges)
      out.weights.push_back(1 - std::max(alpha.at<float>(e.ay, e.ax), alpha.at<float>(e.by, e.bx)));
    std::vector<cv::Mat> yuv;
    cv::split(mark->color, yuv);
    std::vector<cv::Point2f> offsets;
    for (float dy = -2 * kStep; dy <= 2 * kStep; dy += kStep)
      for (float dx = -2 * kStep; dx <= 2 * kStep; dx += kStep) offsets.emplace_back(dx, dy);
    std::stable_sort(offsets.begin(), offsets.end(), [](const cv::Point2f& a, const cv::Point2f& b) {
      return std::abs(a.x) + std::abs(a.y) < std::abs(b.x) + std::abs(b.y);
    });
    for (const cv::Point2f& d : offsets) {
      if (d.x == 0 && d.y == 0) {
        out.shifted.push_back(mark);
        out.luma.push_back(yuv[0]);
        continue;
      }
      // Fresh matrices: a copy of the mark would share its buffers, and writing the shifted
      // colour and undo map into them would change the mark itself.
      auto moved = std::make_shared<ScaledMark>();
      moved->scale = mark->scale;
      const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, d.x, 0, 1, d.y);
      const cv::Size size = alpha.size();
      cv::Mat premultiplied, moved_alpha;
      cv::warpAffine(alpha, moved_alpha, shift, size, cv::INTER_LANCZOS4, cv::BORDER_CONSTANT, 0);
      moved_alpha = cv::min(cv::max(moved_alpha, 0.f), 1.f);  // the kernel's lobes overshoot
      std::vector<cv::Mat> channels(3);
      for (int c = 0; c < 3; ++c) {
        cv::warpAffine(alpha.mul(yuv[size_t(c)]), premultiplied, shift, size, cv::INTER_LANCZOS4,
                       cv::BORDER_CONSTANT, 0);
        cv::divide(premultiplied, cv::max(moved_alpha, 1e-3f), channels[size_t(c)]);
        // Where the shift left (almost) no alpha, the colour is the mark's own: it multiplies nothing.
        yuv[size_t(c)].copyTo(channels[size_t(c)], moved_alpha < 1e-3f);
        channels[size_t(c)] = cv::min(cv::max(channels[size_t(c)], 0.f), 255.f);
      }
      moved->alpha = moved_alpha;
      cv::merge(channels, moved->color);
      if (!mark->undo.empty())
        cv::warpAffine(mark->undo, moved->undo, shift, size, cv::INTER_NEAREST, cv::BORDER_REPLICATE);
      out.shifted.push_back(moved);
      out.luma.push_back(channels[0]);
    }
    return out;
  }

  std::map<const ScaledMark*, Candidates> cache_;
};

enum class Mode {
  deblend,   // undo every profile's mark, paint the rest
  automatic, // undo marks measured on the video, fill the rest from other frames, then paint
  temporal,  // fill every mark from other frames, then paint; undo nothing
};

class DeblendRemover final : public Remover {
 public:
  DeblendRemover(const RemoverOptions& options, Mode mode) : options_(options), mode_(mode) {
    if (mode_ != Mode::deblend) {
      const int window = options.window_frames > 0 ? options.window_frames : kDefaultWindow;
      segment_frames_ = std::max(8, window * 2 / 3);
      window_ = std::make_unique<FrameWindow>(window - segment_frames_, std::max(0, options.margin));
    }
  }
  std::string name() const override {
    switch (mode_) {
      case Mode::deblend: return "deblend";
      case Mode::automatic: return "auto (deblend measured marks, fill the rest from other frames, inpaint what none saw)";
      case Mode::temporal: return "temporal (fill from other frames, inpaint what none saw)";
    }
    return "deblend";
  }
  int wanted_segment_frames() const override { return segment_frames_; }

  void remove(std::span<SegmentFrame> segment) override {
    if (window_) window_->begin(segment);
    for (size_t i = 0; i < segment.size(); ++i) {
      SegmentFrame& sf = segment[i];
      if (sf.marks.empty()) continue;
      sf.frame.make_writable();
      for (const Mark& mark : sf.marks) {
        const bool fits = mode_ != Mode::temporal && mark.appearance &&
                          mark.box.inside(sf.frame.width(), sf.frame.height()) &&
                          mark.appearance->alpha.cols == mark.box.w &&
                          mark.appearance->alpha.rows == mark.box.h &&
                          (mark.appearance->measured() || mode_ == Mode::deblend);
        if (!fits) {
          // No profile (or cut by the frame edge, or unmeasured): its footprint or box is filled.
          if (window_) fill_mark(*window_, i, sf.frame, mark, options_);
          else inpaint_mark(sf.frame, mark, options_);
          continue;
        }
        // What other frames saw of the spot first (where they agree with this frame around it,
        // they beat undoing, whose error grows as 1 / (1 - alpha)); then undo what is left where
        // it is translucent; then follow the scene's motion to where the rest came out from
        // under the mark (less exact than a frame that shows the spot, and than undoing); then
        // paint what none of that reached.
        const std::shared_ptr<const ScaledMark> appearance = aligner_.align(sf.frame, mark);
        const Box area = removal_area(mark.box, sf.frame.width(), sf.frame.height());
        cv::Mat painted;
        cv::Mat canvas = removal_canvas(area, mark.box, *appearance, mode_ == Mode::deblend, painted);
        grow_into_halo(sf.frame.plane(0), area, mark_luma(mark), painted, canvas);
        std::vector<PlaneHoles> holes = holes_from_canvas(sf.frame, canvas, area);
        std::vector<cv::Mat> alphas, colors, undos;
        for (int p = 0; p < sf.frame.plane_count(); ++p) {
          PlaneView plane = sf.frame.plane(p);
          Box pb = area.subsampled(plane.shift_x, plane.shift_y).clipped(plane.width, plane.height);
          cv::Mat alpha, color, undo;
          plane_appearance(*appearance, mark.box, pb, plane.shift_x, plane.shift_y, p, alpha, color, undo);
          alphas.push_back(alpha);
          colors.push_back(color);
          undos.push_back(undo);
        }
        if (window_) window_->fill(i, area, holes);
        for (int p = 0; p < sf.frame.plane_count(); ++p) {
          PlaneView plane = sf.frame.plane(p);
          if (plane.wide()) deblend_plane<uint16_t>(plane, alphas[size_t(p)], colors[size_t(p)], undos[size_t(p)], holes[size_t(p)]);
          else deblend_plane<uint8_t>(plane, alphas[size_t(p)], colors[size_t(p)], undos[size_t(p)], holes[size_t(p)]);
        }
        if (window_) window_->follow(i, area, holes);
        paint_holes(sf.frame, holes);
      }
    }
    if (!window_) return;
    window_->end();
    const FrameWindow::Stats& st = window_->stats();
    if (st.hidden > 0 && !segment.empty())
      log_for("remove")->debug("temporal fill, frames to {}: {:.0f}% of the hidden samples so far taken from other frames "
                             "({:.0f}% by following the scene's motion)",
                             segment.back().frame.index, 100.0 * double(st.filled) / double(st.hidden),
                             100.0 * double(st.followed) / double(st.hidden));
  }

 private:
  // Frames looked across (segment + history): 4 s at 30 fps, unless the pipeline's memory says less.
  static constexpr int kDefaultWindow = 120;
  RemoverOptions options_;
  Mode mode_;
  int segment_frames_ = 0;
  std::unique_ptr<FrameWindow> window_;
  SubpixelAligner aligner_;
};

}  // namespace

std::unique_ptr<Remover> make_deblend_remover(const RemoverOptions& options) {
  return std::make_unique<DeblendRemover>(options, Mode::deblend);
}

std::unique_ptr<Remover> make_auto_remover(const RemoverOptions& options) {
  return std::make_unique<DeblendRemover>(options, Mode::automatic);
}

std::unique_ptr<Remover> make_temporal_remover(const RemoverOptions& options) {
  return std::make_unique<DeblendRemover>(options, Mode::temporal);
}

}  // namespace unmark

#include "remove/inpaint_remover.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/profile.h"
#include "remove/halo.h"
#include "remove/inpaint_kernel.h"
#include "remove/temporal_fill.h"

namespace unmark {
namespace {

class InpaintRemover final : public Remover {
 public:
  explicit InpaintRemover(const RemoverOptions& options) : options_(options) {}
  std::string name() const override { return "inpaint"; }

  void remove(std::span<SegmentFrame> segment) override {
    for (SegmentFrame& sf : segment) {
      if (sf.marks.empty()) continue;
      sf.frame.make_writable();
      for (const Mark& mark : sf.marks) inpaint_mark(sf.frame, mark, options_);
    }
  }

 private:
  RemoverOptions options_;
};

}  // namespace

namespace {

// True when the mark has a profile of its box's size: its alpha says which samples it touches.
bool has_footprint(const Mark& mark) {
  return mark.appearance && mark.appearance->alpha.cols == mark.box.w && mark.appearance->alpha.rows == mark.box.h;
}

// The samples where the mark's alpha is above `threshold`, dilated for the compression ringing
// around its edges, on a canvas of `area` (luma samples, holding the box). CV_8U, 0 or 255.
cv::Mat footprint_canvas(const Mark& mark, float threshold, const Box& area) {
  cv::Mat canvas = cv::Mat::zeros(area.h, area.w, CV_8U);
  cv::Mat core = mark.appearance->alpha > threshold;
  core.copyTo(canvas(cv::Rect(mark.box.x - area.x, mark.box.y - area.y, mark.box.w, mark.box.h)));
  dilate_by_footprint_reach(canvas);
  return canvas;
}

// With a profile, only the mark's footprint is painted (alpha above noise, dilated for the
// compression ringing around its edges, and grown into this frame's halo): the background
// between the letters and around the logo is real and stays. Empty when the mark has no usable
// profile.
std::vector<PlaneHoles> footprint_holes(const Frame& frame, const Mark& mark) {
  if (!has_footprint(mark) || !mark.box.grown(kFootprintReach).inside(frame.width(), frame.height())) return {};
  const Box area = removal_area(mark.box, frame.width(), frame.height());
  cv::Mat canvas = footprint_canvas(mark, 0.02f, area);
  grow_into_halo(frame.plane(0), area, mark_luma(mark), canvas, canvas);
  return holes_from_canvas(frame, canvas, area);
}

}  // namespace

void dilate_by_footprint_reach(cv::Mat& mask) {
  cv::dilate(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * kFootprintReach - 1, 2 * kFootprintReach - 1}));
}

Box removal_area(const Box& box, int width, int height) {
  return box.grown(kFootprintReach + kHaloReach).clipped(width, height);
}

float mark_luma(const Mark& mark) {
  std::vector<cv::Mat> yuv;
  cv::split(mark.appearance->color, yuv);
  cv::Mat weights = mark.appearance->alpha;
  const double total = cv::sum(weights)[0];
  return total > 0 ? float(cv::sum(yuv[0].mul(weights))[0] / total) : 235.f;
}

std::vector<PlaneHoles> holes_from_canvas(const Frame& frame, const cv::Mat& canvas, const Box& area) {
  std::vector<PlaneHoles> holes;
  for (int p = 0; p < frame.plane_count(); ++p) {
    PlaneView plane = frame.plane(p);
    const int sx = plane.shift_x, sy = plane.shift_y;
    const Box pb = area.subsampled(sx, sy).clipped(plane.width, plane.height);
    // A chroma sample is changed if any luma sample it covers is.
    cv::Mat on_plane = cv::Mat::zeros(pb.h << sy, pb.w << sx, CV_8U);
    const cv::Rect at(area.x - (pb.x << sx), area.y - (pb.y << sy), area.w, area.h);
    const cv::Rect inside = at & cv::Rect(0, 0, on_plane.cols, on_plane.rows);
    canvas(cv::Rect(inside.x - at.x, inside.y - at.y, inside.width, inside.height)).copyTo(on_plane(inside));
    if (sx || sy) {
      cv::resize(on_plane, on_plane, {pb.w, pb.h}, 0, 0, cv::INTER_AREA);
      on_plane = on_plane > 0;
    }
    PlaneHoles h{pb, std::vector<uint8_t>(size_t(pb.w) * pb.h)};
    for (int y = 0; y < pb.h; ++y) std::copy_n(on_plane.ptr<uint8_t>(y), pb.w, h.mask.begin() + long(y) * pb.w);
    holes.push_back(std::move(h));
  }
  return holes;
}

Cover removal_cover(const Mark& mark, int margin) {
  if (!has_footprint(mark)) return {mark.box.grown(std::max(0, margin)), {}};
  // Everything deblending touches (any alpha) and painting does (the footprint's reach). Not the
  // halo a frame's mark may have (remove/halo.h): hiding that much more of every source cost
  // the opaque bench case 1.2 dB, where a source's halo is rare and small.
  const Box area = mark.box.grown(kFootprintReach);
  cv::Mat canvas = footprint_canvas(mark, 0.f, area);
  Cover cover{area, std::vector<uint8_t>(size_t(area.w) * area.h)};
  for (int y = 0; y < area.h; ++y) std::copy_n(canvas.ptr<uint8_t>(y), area.w, cover.mask.begin() + long(y) * area.w);
  return cover;
}

namespace {

// The whole box (grown by the margin), on every plane.
std::vector<PlaneHoles> box_holes(const Frame& frame, const Box& grown) {
  std::vector<PlaneHoles> holes;
  for (int p = 0; p < frame.plane_count(); ++p) {
    PlaneView plane = frame.plane(p);
    Box pb = grown.subsampled(plane.shift_x, plane.shift_y).clipped(plane.width, plane.height);
    holes.push_back({pb, std::vector<uint8_t>(size_t(pb.w) * pb.h, 1)});
  }
  return holes;
}

}  // namespace

void paint_holes(Frame& frame, const std::vector<PlaneHoles>& holes) {
  for (size_t p = 0; p < holes.size(); ++p) {
    const PlaneHoles& h = holes[p];
    if (h.box.empty() || h.count() == 0) continue;
    PlaneView plane = frame.plane(int(p));
    if (plane.wide())
      inpaint_mask(reinterpret_cast<uint16_t*>(plane.data), plane.stride, plane.width, plane.height, h.box,
                   h.mask.data(), h.box.w, plane.max_value());
    else
      inpaint_mask(plane.data, plane.stride, plane.width, plane.height, h.box, h.mask.data(), h.box.w);
  }
}

void inpaint_mark(Frame& frame, const Mark& mark, const RemoverOptions& options) {
  if (std::vector<PlaneHoles> holes = footprint_holes(frame, mark); !holes.empty()) {
    paint_holes(frame, holes);
    return;
  }
  const Box grown = mark.box.grown(std::max(0, options.margin)).clipped(frame.width(), frame.height());
  for (int p = 0; p < frame.plane_count(); ++p) {
    PlaneView plane = frame.plane(p);
    Box box = grown.subsampled(plane.shift_x, plane.shift_y);
    int feather = options.feather >> std::max(plane.shift_x, plane.shift_y);
    if (plane.wide())
      inpaint_box(reinterpret_cast<uint16_t*>(plane.data), plane.stride, plane.width, plane.height,
                  box, feather, plane.max_value());
    else
      inpaint_box(plane.data, plane.stride, plane.width, plane.height, box, feather);
  }
}

void fill_mark(FrameWindow& window, size_t at, Frame& frame, const Mark& mark, const RemoverOptions& options) {
  std::vector<PlaneHoles> holes = footprint_holes(frame, mark);
  const bool footprint = !holes.empty();
  const Box area = footprint ? removal_area(mark.box, frame.width(), frame.height())
                             : mark.box.grown(std::max(0, options.margin)).clipped(frame.width(), frame.height());
  if (!footprint) holes = box_holes(frame, area);
  // Nothing seen elsewhere: the plain spatial fill (feathered at a box's edge).
  const int seen = window.fill(at, area, holes);
  if (seen + window.follow(at, area, holes) == 0 && !footprint) {
    inpaint_mark(frame, mark, options);
    return;
  }
  paint_holes(frame, holes);
}

std::unique_ptr<Remover> make_inpaint_remover(const RemoverOptions& options) {
  if (options.feather < 0)
    throw Error("cli", ErrorKind::usage, "--feather must not be negative");
  return std::make_unique<InpaintRemover>(options);
}

}  // namespace unmark

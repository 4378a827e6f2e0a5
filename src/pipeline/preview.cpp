#include "pipeline/preview.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "io/png_io.h"

namespace unmark {
namespace {

// The frame's pixels in `area` as 8-bit BGR (BT.709, limited range): the crop only.
cv::Mat crop_bgr(const Frame& frame, const Box& area) {
  cv::Mat out(area.h, area.w, CV_8UC3);
  const int planes = frame.plane_count();
  PlaneView p[3];
  for (int i = 0; i < planes; ++i) p[i] = frame.plane(i);
  auto sample = [&](const PlaneView& v, int x, int y) {
    x >>= v.shift_x;
    y >>= v.shift_y;
    float s = v.wide() ? reinterpret_cast<const uint16_t*>(v.data + y * v.stride)[x] : v.data[y * v.stride + x];
    return s / float(1 << (v.bit_depth - 8));
  };
  for (int y = 0; y < area.h; ++y)
    for (int x = 0; x < area.w; ++x) {
      int fx = area.x + x, fy = area.y + y;
      float Y = (sample(p[0], fx, fy) - 16.f) * 255.f / 219.f;
      float U = planes == 3 ? (sample(p[1], fx, fy) - 128.f) * 255.f / 224.f : 0.f;
      float V = planes == 3 ? (sample(p[2], fx, fy) - 128.f) * 255.f / 224.f : 0.f;
      out.at<cv::Vec3b>(y, x) = {cv::saturate_cast<uint8_t>(Y + 1.8556f * U),
                                 cv::saturate_cast<uint8_t>(Y - 0.1873f * U - 0.4681f * V),
                                 cv::saturate_cast<uint8_t>(Y + 1.5748f * V)};
    }
  return out;
}

}  // namespace

PreviewSheet::PreviewSheet(int rows, int64_t expected_frames)
    : rows_(rows), spacing_(std::max<int64_t>(1, expected_frames / std::max(1, rows))) {}

bool PreviewSheet::wants(const SegmentFrame& sf) const {
  if (sf.marks.empty() || int(captured_.size()) >= rows_) return false;
  return captured_.empty() || sf.frame.index >= captured_.back().index + spacing_;
}

void PreviewSheet::capture_before(const SegmentFrame& sf) {
  const Box& b = sf.marks[0].box;
  Box area = b.grown(std::max(8, b.h / 2)).clipped(sf.frame.width(), sf.frame.height());
  captured_.push_back({sf.frame.index, area, crop_bgr(sf.frame, area), {}});
}

void PreviewSheet::capture_after(const SegmentFrame& sf) {
  if (captured_.empty() || captured_.back().index != sf.frame.index) return;
  captured_.back().after = crop_bgr(sf.frame, captured_.back().area);
}

void PreviewSheet::write(const std::string& path) const {
  if (captured_.empty()) return;
  // Every row scaled to the same width (2x for small marks), before | after.
  int width = 0;
  for (const Row& r : captured_) width = std::max(width, r.area.w);
  const double scale = width < 240 ? 2.0 : 1.0;
  std::vector<cv::Mat> rows;
  for (const Row& r : captured_) {
    if (r.after.empty()) continue;
    cv::Mat pair, scaled;
    cv::hconcat(std::vector<cv::Mat>{r.before, cv::Mat(r.before.rows, 4, CV_8UC3, cv::Scalar(255, 255, 255)), r.after}, pair);
    double s = scale * double(width) / r.area.w;
    cv::resize(pair, scaled, {}, s, s, cv::INTER_LINEAR);
    if (!rows.empty() && scaled.cols != rows[0].cols) cv::resize(scaled, scaled, {rows[0].cols, scaled.rows});
    rows.push_back(scaled);
    rows.push_back(cv::Mat(4, scaled.cols, CV_8UC3, cv::Scalar(255, 255, 255)));
  }
  if (rows.empty()) return;
  rows.pop_back();
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  try {
    write_png(path, sheet);
  } catch (const Error&) {
    throw Error("preview", ErrorKind::output, "cannot write '" + path + "'");
  }
}

}  // namespace unmark

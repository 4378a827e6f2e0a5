#include "detect/plane_copy.h"

namespace unmark {

cv::Mat plane_copy_8bit(const PlaneView& v) {
  if (!v.wide()) return cv::Mat(v.height, v.width, CV_8U, v.data, size_t(v.stride)).clone();
  cv::Mat wide(v.height, v.width, CV_16U, v.data, size_t(v.stride)), out;
  wide.convertTo(out, CV_8U, 1.0 / double(1 << (v.bit_depth - 8)));
  return out;
}

cv::Mat plane_8bit(const PlaneView& v, cv::Rect roi) {
  if (!v.wide()) return cv::Mat(v.height, v.width, CV_8U, v.data, size_t(v.stride))(roi);
  cv::Mat wide(v.height, v.width, CV_16U, v.data, size_t(v.stride)), out;
  wide(roi).convertTo(out, CV_8U, 1.0 / double(1 << (v.bit_depth - 8)));
  return out;
}

}  // namespace unmark

// `--preview OUT.png`: before/after crops around the mark for a few frames, side by side, so a
// user can judge a removal without playing the video. Only the crops are converted to RGB.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/mark.h"

namespace unmark {

class PreviewSheet {
 public:
  // Keeps up to `rows` frames, spread over the ~`expected_frames` of the video.
  PreviewSheet(int rows, int64_t expected_frames);
  // Whether this frame should be captured (it has a mark and is due).
  bool wants(const SegmentFrame& sf) const;
  // Captures the area around the frame's first mark: before removal, then after.
  void capture_before(const SegmentFrame& sf);
  void capture_after(const SegmentFrame& sf);
  // Writes the sheet (PNG). Throws Error{output}. No-op when nothing was captured.
  void write(const std::string& path) const;

 private:
  struct Row {
    int64_t index;
    Box area;
    cv::Mat before, after;  // BGR 8-bit
  };
  int rows_;
  int64_t spacing_;
  std::vector<Row> captured_;
};

}  // namespace unmark

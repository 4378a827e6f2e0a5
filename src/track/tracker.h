// Tracking over a segment: turns per-frame detections into boxes a remover can trust.
//  - extends each run of detections into neighbouring frames the cheap per-frame path missed
//    (asking the detector to verify around the neighbour's box: fades, blinks, skipped searches);
//  - fills short gaps between two runs at the same place (a mark hidden for a frame or two);
//  - never fills across a jump (runs at different places stay apart: no smeared box);
//  - holds the box still within a run (the mark does not move while it stays; detection jitters
//    by a pixel), but for the frames found further off: Sora's mark slides a few pixels as it
//    fades out before a jump, and those frames keep the box they were found at.
// One mark per frame (the strongest); state carries across segments.
#pragma once

#include <optional>
#include <span>

#include "core/mark.h"
#include "detect/detector.h"

namespace unmark {

struct TrackerOptions {
  int max_gap = 8;     // frames: longest gap filled between runs at the same place
  int jitter = 2;      // pixels: a run whose boxes stay within this of its median is held still
};

class Tracker {
 public:
  explicit Tracker(const TrackerOptions& options = {}) : opt_(options) {}
  // Rewrites frames[i].marks in place for the first `emit` frames (all when emit < 0); the frames
  // after them are lookahead: used for context (a gap that ends in the next segment), their marks
  // provisional. `detector` may be asked to verify around boxes.
  void track(std::span<SegmentFrame> frames, Detector& detector, int emit = -1);
  const TrackerOptions& options() const { return opt_; }

 private:
  TrackerOptions opt_;
  std::optional<Mark> carried_;  // the last emitted frame's mark
};

// Collects detected frames into segments and tracks each with a few frames of lookahead, so runs
// and gaps that cross a segment boundary are handled as within one. Frames come out in order.
class SegmentAssembler {
 public:
  // Without `ramp`, every segment is segment_frames long, the first too.
  SegmentAssembler(int segment_frames, Detector& detector, const TrackerOptions& options = {}, bool ramp = true)
      : segment_(segment_frames), next_segment_(ramp ? std::min(4, segment_frames) : segment_frames),
        detector_(detector), tracker_(options) {}
  // Adds a frame (marks already detected). Returns a tracked segment when one is ready, else empty.
  // The first segments are short (4, 8, 16 frames, then segment_frames), so the encoder gets its
  // first frames after a few decoded frames rather than a whole segment's worth.
  std::vector<SegmentFrame> push(SegmentFrame frame);
  // The frames still held, tracked.
  std::vector<SegmentFrame> finish();

 private:
  int lookahead() const { return tracker_.options().max_gap + 2; }
  std::vector<SegmentFrame> take(int count);
  int segment_;
  int next_segment_;  // grows to segment_
  Detector& detector_;
  Tracker tracker_;
  std::vector<SegmentFrame> held_;
};

}  // namespace unmark

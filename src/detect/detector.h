// Detection: where the watermark is in each frame. Implementations: fixed regions the user names
// (here), learned profiles and static-logo discovery (later).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/frame.h"
#include "core/mark.h"
#include "core/region.h"

namespace unmark {

class Detector {
 public:
  virtual ~Detector() = default;
  // Short name for logs: "regions", "profile:sora2".
  virtual std::string name() const = 0;
  // The marks in one frame, boxes in frame luma coordinates, inside the frame. Reads the frame
  // only. Called from one thread, frames in display order.
  virtual std::vector<Mark> detect(const Frame& frame) = 0;
  // Looks for the mark near `box` only (a few pixels around it); nullopt when it is not there.
  // The tracker uses it to extend a run into frames the cheap per-frame path missed. Detectors
  // without a notion of appearance (fixed regions) return nullopt.
  virtual std::optional<Mark> verify(const Frame& frame, const Box& box) {
    (void)frame;
    (void)box;
    return std::nullopt;
  }
};

struct ProfileDetectorOptions {
  double threshold = 0.62;        // normalized correlation to accept a mark found by search
  double keep_threshold = 0.40;   // ... to keep following it where it was (with its core present)
  double strong = 0.72;           // a followed mark scoring below this does not stop the search
  int search_interval = 3;        // when nothing is followed, a full-frame search every N frames
};

struct Profile;
// Finds `profile`'s mark at the frame's scale: verification where it was last seen, a check of
// the profile's known places, and a full search of the downscaled luma plane on misses.
std::unique_ptr<Detector> make_profile_detector(const Profile& profile, int frame_width,
                                                int frame_height, const ProfileDetectorOptions& options = {});

// The user's --region boxes, each active during its time range.
std::unique_ptr<Detector> make_region_detector(std::vector<TimedRegion> regions);

}  // namespace unmark

// Detection: where the watermark is in each frame. Implementations: fixed regions the user names
// (here), learned profiles and static-logo discovery (later).
#pragma once

#include <memory>
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
};

// The user's --region boxes, each active during its time range.
std::unique_ptr<Detector> make_region_detector(std::vector<TimedRegion> regions);

}  // namespace unmark

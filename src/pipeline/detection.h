// Choosing the detector for a job: the user's regions, a named profile, or auto (the built-in
// profiles). Shared by `unmark remove` and `unmark detect`, so both find the same marks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/region.h"
#include "detect/detector.h"

namespace unmark {

struct DetectionSettings {
  std::string mode = "auto";          // auto | profile:NAME_OR_PATH | regions
  std::vector<TimedRegion> regions;   // mode "regions" (and "auto" when given)
};

struct DetectionChoice {
  std::unique_ptr<Detector> detector;
  bool automatic = false;  // found by appearance (boxes get a safety margin), not named by the user
  std::string description;
};

// Throws Error{usage} for a bad mode or an unknown profile.
DetectionChoice choose_detector(const DetectionSettings& settings, int frame_width, int frame_height);

}  // namespace unmark

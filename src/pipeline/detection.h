// Choosing the detector for a job: the user's regions, a named profile, or auto (the built-in
// profiles). Shared by `unmark remove` and `unmark detect`, so both find the same marks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/region.h"
#include "detect/profile.h"
#include "detect/detector.h"
#include "detect/refine.h"

namespace unmark {

struct DetectionSettings {
  std::string mode = "auto";          // auto | profile:NAME_OR_PATH | static | regions | none
  std::vector<TimedRegion> regions;   // mode "regions" (and "auto" when given)
  double max_box_percent = 100;       // found marks whose box covers more of the frame are ignored
  // Measure the profile's alpha and colour again on the video (detect/refine.h): "auto" does for
  // built-in and discovered profiles and uses a profile file the user names as it is; on; off.
  std::string refine = "auto";
};

// A profile still to be measured on the video (detect/refine.h), on frames the caller feeds it.
struct PendingMeasure {
  PendingMeasure(const Profile& coarse, int width, int height, const RefineOptions& options, std::string reason)
      : measurer(coarse, width, height, options), why(std::move(reason)) {}
  ProfileMeasurer measurer;
  std::string why;  // how the profile was chosen, for the description
};

struct DetectionChoice {
  std::unique_ptr<Detector> detector;
  bool automatic = false;  // found by appearance (boxes get a safety margin), not named by the user
  std::string description;
  std::optional<Profile> profile;  // the profile used, when one is (measured() when refined)
  // Set when choose_detector left the measuring to the caller (measure_later): feed frames to
  // pending->measurer, then call finish_measuring. Until then the coarse profile is in use.
  std::shared_ptr<PendingMeasure> pending;
};

// Throws Error{usage} for a bad mode or an unknown profile. `input` is read (its start) for auto
// and static: auto checks the built-in profiles on the first second, then tries discovery
// (a static logo learned from the first ~15 s); static runs discovery alone. When nothing is
// found the detector finds nothing (the output is a plain transcode).
// True when choose_detector reads the input to decide (auto or static without regions).
bool needs_input_sample(const DetectionSettings& settings);

// With `measure_later`, a profile to be measured is not measured here (which reads the video's
// start again) but left in `pending`: the pipeline measures it on the frames it decodes anyway.
DetectionChoice choose_detector(const DetectionSettings& settings, const std::string& input,
                                int frame_width, int frame_height, bool measure_later = false);

// Swaps the measured profile (and a detector for it) into `choice` once its pending measurer has
// seen its frames; keeps the coarse profile when it could not be measured (logged). `source`
// names the frames in the profile's history.
void finish_measuring(DetectionChoice& choice, const std::string& source);

}  // namespace unmark

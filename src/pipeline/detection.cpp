#include "pipeline/detection.h"

#include "core/error.h"
#include "core/log.h"
#include "detect/profile.h"

namespace unmark {

DetectionChoice choose_detector(const DetectionSettings& s, int width, int height) {
  auto log = log_for("detect");
  DetectionChoice c;
  if (!s.regions.empty() && (s.mode == "auto" || s.mode == "regions")) {
    c.detector = make_region_detector(s.regions);
    c.description = "regions (" + std::to_string(s.regions.size()) + " given)";
  } else if (s.mode == "regions") {
    throw Error("cli", ErrorKind::usage, "--detect regions needs --region x,y,w,h");
  } else if (s.mode == "auto" || s.mode.rfind("profile:", 0) == 0) {
    std::string name = s.mode == "auto" ? "sora2" : s.mode.substr(8);
    Profile profile = load_profile(name);
    c.detector = make_profile_detector(profile, width, height);
    c.automatic = true;
    c.description = "profile " + profile.name + " (" + std::to_string(profile.width()) + "x" +
                    std::to_string(profile.height()) + " at width " +
                    std::to_string(profile.reference_width) + ")";
  } else {
    throw Error("cli", ErrorKind::usage,
                "--detect '" + s.mode + "' is not known (choose auto, profile:NAME or regions)");
  }
  log->info("using {}", c.description);
  return c;
}

}  // namespace unmark

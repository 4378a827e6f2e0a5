#include "pipeline/detection.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "detect/learn.h"
#include "detect/profile.h"
#include "detect/refine.h"
#include "detect/scale_search.h"
#include "io/frame_reader.h"

namespace unmark {

namespace {

constexpr int kProfileSampleFrames = 30;     // the first second: enough to see a Sora mark
constexpr double kProfileSampleShare = 0.2;  // share of those in which it must be found
constexpr int kDiscoveryFrames = 450;        // ~15 s read for static-logo discovery
// The scale search looks at every kScaleEvery-th frame of the first kScaleFrames (from frame 2:
// a Sora mark is absent on the first frame or two): 9 frames at most, each searched at every
// scale; 3 where the mark is, 5 where nothing like it shows (ScaleSearch::hopeless).
constexpr int kScaleFrames = 90;
constexpr int kScaleEvery = 10;
constexpr int kScaleFirst = 2;

// A built-in profile at the size its mark has in this video.
struct ScaledProfile {
  Profile profile;
  // Found by its glyph alone (the text beside it is not the profile's: a smaller word, a handle
  // line): the text is measured on the video, on either side of the glyph.
  bool glyph_only = false;
};

std::optional<ScaleFound> search_scale(const Profile& profile, const std::string& input, int width, int height,
                                       const ScaleSearchOptions& options) {
  ScaleSearch search(profile, width, height, options);
  int frames = 0;
  read_frames(input, [&](Frame& f) {
    const int i = frames++;
    if (i >= kScaleFirst && (i - kScaleFirst) % kScaleEvery == 0 && (search.observe(f) || search.hopeless()))
      return false;
    return frames < kScaleFrames;
  });
  return search.result();
}

// `profile` at the scale its mark shows in the first seconds of `input` (scale_search.h): the
// whole mark in either layout, else its glyph alone; nullopt when neither is found.
std::optional<ScaledProfile> at_video_scale(const Profile& profile, const std::string& input, int width, int height) {
  auto log = log_for("detect");
  ScaledProfile out;
  std::optional<ScaleFound> found = search_scale(profile, input, width, height, {});
  if (found) {
    out.profile = profile_at_scale(profile, found->scale, width, height);
  } else if (std::optional<Profile> glyph = glyph_profile(profile)) {
    log->info("scale search: profile {} not found whole; looking for its glyph alone", profile.name);
    found = search_scale(*glyph, input, width, height, ScaleSearch::for_glyph());
    if (found) {
      out.profile = profile_at_scale(*glyph, found->scale, width, height);
      out.glyph_only = true;
    }
  }
  if (!found) {
    log->info("scale search: profile {} not found at any scale in the first {} frames", profile.name, kScaleFrames);
    return std::nullopt;
  }
  log->info("scale search: profile {}{} is {}x{} here (correlation {:.2f} in {} of {} frames looked at)", profile.name,
            out.glyph_only ? " (its glyph)" : "", out.profile.width(), out.profile.height(), found->score,
            found->frames, found->looked);
  return out;
}

// How a profile is measured on the video (refine.h): a discovered profile may hold only part of
// the mark, so around it is measured too; a glyph found alone has its text on either side (4 of
// its widths reach a 20-character handle line), within its own rows (Sora draws its word and
// handle line beside the cloud, not above or below it: a taller reach only measured background).
RefineOptions measuring_for(bool discovered, bool glyph_only) {
  RefineOptions o;
  if (discovered) o.grow_x = o.grow_y = 0.35;
  if (glyph_only) {
    o.grow_x = 4.0;
    o.grow_y = 0.1;
    o.split_sides = true;
  }
  return o;
}

// Share of the first frames of `input` in which `profile`'s mark is found.
double found_share(const Profile& profile, const std::string& input, int width, int height) {
  auto detector = make_profile_detector(profile, width, height);
  // Stops as soon as the answer is sure: a video with the mark decides in a few frames.
  const int needed = int(std::ceil(kProfileSampleShare * kProfileSampleFrames));
  int frames = 0, found = 0;
  read_frames(input, [&](Frame& f) {
    found += !detector->detect(f).empty();
    return ++frames < kProfileSampleFrames && found < needed;
  });
  if (found >= needed) return double(found) / kProfileSampleFrames;  // at least the share asked
  return frames ? double(found) / frames : 0.0;
}

std::optional<Profile> discover(const std::string& input) {
  LearnOptions opt;
  opt.name = "discovered";
  opt.max_frames = 120;  // frames kept (memory): read 450, keep at most ~240
  opt.max_read_frames = kDiscoveryFrames;
  // An unknown video: only a pattern of edges that comes back identical, to the pixel, over a
  // changing picture counts: most of the time at one place (a mark that fades now and then), or
  // over several places it leaves in turn (a mark that jumps or moved once).
  opt.min_window_share = 0.6;
  opt.min_window_share_moving = 0.5;
  opt.min_mean_score = 0.8;
  opt.discovering = true;
  try {
    Profile found = learn_profile({input}, opt);
    found.places_only = true;  // looked for where it was seen, never over the whole frame
    return found;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::input) throw;
    log_for("detect")->info("static-logo discovery: {}", e.what());
    return std::nullopt;
  }
}

// Whether to measure the profile on the video: `by_default` is what "auto" means for it.
bool refine_on(const DetectionSettings& s, bool by_default) {
  if (s.refine == "on") return true;
  if (s.refine == "off") return false;
  if (s.refine == "auto") return by_default;
  throw Error("cli", ErrorKind::usage, "--refine '" + s.refine + "' is not known (choose auto, on or off)");
}

DetectionChoice choice_for(const Profile& profile, int width, int height, const std::string& why, bool measured) {
  DetectionChoice c;
  c.profile = profile;
  c.detector = make_profile_detector(profile, width, height);
  c.automatic = true;
  c.description = "profile " + profile.name + " (" + std::to_string(profile.width()) + "x" +
                  std::to_string(profile.height()) + " at width " +
                  std::to_string(profile.reference_width) + ")" + why +
                  (measured ? ", measured on this video" : "");
  return c;
}

// A glyph found alone is the mark only once its text is measured beside it (the Sora cloud always
// has its word): small round things of a video's own (an icon, a cursor, another platform's logo)
// match the glyph alone at 0.8 and more, and do not move with a word.
bool text_measured(const Profile& measured) {
  return mark_parts(measured.alpha).has_value() || (measured.mirror && mark_parts(measured.mirror->alpha).has_value());
}

// The glyph found alone, measured on the video with its text (read here, at once: when it is not
// confirmed, the caller goes on to what it would do without the profile). nullopt when no text
// was measured beside it, or measuring is off (nothing could confirm it).
std::optional<Profile> confirm_glyph(const Profile& glyph, const std::string& input, int width, int height, bool refine) {
  auto log = log_for("detect");
  const char* unsure = "its glyph matched, but no text was measured beside it: not sure it is the mark";
  if (!refine) {
    log->warn("profile {}: {} (measuring is off)", glyph.name, unsure);
    return std::nullopt;
  }
  RefineReport report;
  std::optional<Profile> measured = refine_profile(glyph, input, width, height, measuring_for(false, true), &report);
  if (!measured || !text_measured(*measured)) {
    log->warn("profile {}: {} ({})", glyph.name, unsure, report.summary);
    return std::nullopt;
  }
  return measured;
}

// The profile measured again on this video (refine.h), or as it is when that is off or fails.
// With `later`, the choice carries the measuring for the caller to feed its own frames to.
DetectionChoice from_profile(const Profile& coarse, int width, int height, const std::string& why,
                             const std::string& input, bool refine, const RefineOptions& options, bool later) {
  if (!refine) return choice_for(coarse, width, height, why, false);
  if (later) {
    DetectionChoice c = choice_for(coarse, width, height, why, false);
    c.pending = std::make_shared<PendingMeasure>(coarse, width, height, options, why);
    return c;
  }
  RefineReport report;
  std::optional<Profile> refined = refine_profile(coarse, input, width, height, options, &report);
  if (!refined) log_for("detect")->info("profile {} not measured on this video: {}", coarse.name, report.summary);
  return choice_for(refined ? *refined : coarse, width, height, why, refined.has_value());
}

// Frames narrower or lower than this are left alone by automatic detection.
constexpr int kMinMarkFrameSide = 16;

DetectionChoice nothing(const std::string& why) {
  DetectionChoice c;
  c.detector = make_region_detector({});
  c.automatic = true;
  c.description = "none (" + why + ")";
  return c;
}

}  // namespace

bool needs_input_sample(const DetectionSettings& s) {
  return s.regions.empty() && (s.mode == "auto" || s.mode == "static");
}

DetectionChoice choose_detector(const DetectionSettings& s, const std::string& input, int width,
                                int height, bool measure_later) {
  auto log = log_for("detect");
  DetectionChoice c;
  if (!s.regions.empty() && (s.mode == "auto" || s.mode == "regions")) {
    c.detector = make_region_detector(s.regions);
    c.description = "regions (" + std::to_string(s.regions.size()) + " given)";
  } else if (s.mode == "regions") {
    throw Error("cli", ErrorKind::usage, "--detect regions needs --region x,y,w,h");
  } else if (s.mode == "none") {
    c = nothing("none asked: a plain re-encode");
    c.automatic = false;
  } else if (s.mode.rfind("profile:", 0) == 0) {
    const std::string name = s.mode.substr(8);
    const auto builtins = builtin_profiles();
    const bool builtin = std::find(builtins.begin(), builtins.end(), name) != builtins.end();
    ScaledProfile chosen{load_profile(name)};
    // A built-in profile is found at the size its mark has in this video; a profile file the
    // user names holds for the frame width it was learned at.
    if (builtin)
      if (auto scaled = at_video_scale(chosen.profile, input, width, height)) chosen = std::move(*scaled);
    if (chosen.glyph_only) {
      if (auto measured = confirm_glyph(chosen.profile, input, width, height, refine_on(s, true)))
        c = from_profile(*measured, width, height, " (found by its glyph; its text measured here)", input, true, {},
                         measure_later);
      else
        c = nothing("the mark's glyph matched, but no text was measured beside it: frames left as they are");
    } else {
      c = from_profile(chosen.profile, width, height, "", input, refine_on(s, builtin), {}, measure_later);
    }
  } else if ((s.mode == "auto" || s.mode == "static") && (width < kMinMarkFrameSide || height < kMinMarkFrameSide)) {
    // No detector is made for frames this small (a mark needs pixels to be found by, and the
    // searches' downscaled images would be empty).
    c = nothing("the frame, " + std::to_string(width) + "x" + std::to_string(height) + ", is too small to hold a mark");
  } else if (s.mode == "auto" || s.mode == "static") {
    if (s.mode == "auto") {
      for (const std::string& name : builtin_profiles()) {
        std::optional<ScaledProfile> scaled = at_video_scale(load_profile(name), input, width, height);
        if (!scaled) continue;
        const Profile& profile = scaled->profile;
        double share = found_share(profile, input, width, height);
        log->info("auto: profile {} found in {:.0f}% of the first {} frames{}", name, share * 100,
                  kProfileSampleFrames, share >= kProfileSampleShare ? " (or more: stopped when sure)" : "");
        if (share < kProfileSampleShare) continue;
        if (!scaled->glyph_only) {
          c = from_profile(profile, width, height, ", chosen by auto", input, refine_on(s, true), {}, measure_later);
          break;
        }
        // Confirmed, the whole mark is measured again as any profile is (its own colour, every
        // pair of its layout, a tight reach): the glyph's measuring borrowed the profile's colour
        // and split its pairs, which is enough to find the mark, not to undo it as well.
        if (auto measured = confirm_glyph(profile, input, width, height, refine_on(s, true))) {
          c = from_profile(*measured, width, height, ", chosen by auto (found by its glyph; its text measured here)",
                           input, true, {}, measure_later);
          break;
        }
      }
    }
    if (!c.detector) {
      if (auto found = discover(input))
        c = from_profile(*found, width, height, ", discovered as a static logo", input, refine_on(s, true),
                         measuring_for(true, false), measure_later);
      else c = nothing("no built-in profile matched and no static logo was found");
    }
  } else {
    throw Error("cli", ErrorKind::usage,
                "--detect '" + s.mode + "' is not known (choose auto, static, profile:NAME, regions or none)");
  }
  if (c.pending)
    log->info("using {}; measuring it on the first {} frames as they are decoded", c.description,
              c.pending->measurer.options().max_frames);
  else
    log->info("using {}", c.description);
  return c;
}

void finish_measuring(DetectionChoice& c, const std::string& source) {
  if (!c.pending) return;
  std::shared_ptr<PendingMeasure> pending = std::exchange(c.pending, nullptr);
  ProfileMeasurer& m = pending->measurer;
  RefineReport report;
  std::optional<Profile> measured = m.finish(source, &report);
  if (!measured) {
    log_for("detect")->info("profile {} not measured on this video: {}", m.coarse().name, report.summary);
    return;  // the coarse profile's choice stands
  }
  const bool automatic = c.automatic;
  c = choice_for(*measured, m.width(), m.height(), pending->why, true);
  c.automatic = automatic;
  log_for("detect")->info("using {}", c.description);
}

}  // namespace unmark

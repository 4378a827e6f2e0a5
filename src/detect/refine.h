// Refining a profile for one video: the mark's alpha and colour measured again on the video's own
// frames, at its own size, so that reverse alpha blending can undo it exactly.
//
// A profile found by discovery is learned at a reduced size from frames whose backgrounds are only
// guessed; a built-in profile was learned on other videos and is resampled to this one. Either is
// good enough to find the mark, not to undo it: an alpha off by 0.02 under a mark of alpha 0.6
// leaves a ghost of 5 levels. Refining measures it where the truth is visible: when the mark
// jumps to a new place (or leaves one), a frame or two beside it shows that very spot without it,
// which is the background under the mark up to a little motion. A mark that never moves has no
// such pairs and keeps its profile (backgrounds guessed by filling in from around the mark are
// right on smooth backgrounds only: over a grown box they measure texture as much as the mark).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "core/frame.h"
#include "detect/profile.h"

namespace unmark {

struct RefineOptions {
  int max_frames = 450;       // frames read from the start of the video
  // The detected box is grown by these shares of its width and height on each side (at least
  // 4 px; a discovered profile may hold only part of the mark, a glyph found alone its text).
  // The grown box may leave the frame: what lies outside measures as no mark.
  double grow_x = 0.0, grow_y = 0.0;
  // The profile is a glyph alone whose text may sit on either side (the Sora cloud with its word
  // and handle line, normal or mirrored): the pairs are split by the side their text shows on and
  // each side measured on its own (the other becomes Profile::mirror).
  bool split_sides = false;
  int pair_reach = 3;         // frames before an arrival (after a departure) searched for the spot
  int min_pairs = 3;          // fewer frame pairs than this: not measured (nullopt)
};

struct RefineReport {
  int frames_read = 0;
  int frames_with_mark = 0;
  int jump_pairs = 0;        // arrivals and departures that showed the spot without the mark
  int pairs_rejected = 0;    // pairs whose frames differed by something other than the mark
  std::string summary;       // one line for the log
};

// The measuring, one frame at a time, so it can look at the frames a pipeline decodes anyway:
//
//   ProfileMeasurer m(coarse, width, height);
//   while (m.observe(next_frame())) {}     // false once it has seen enough (options.max_frames)
//   std::optional<Profile> measured = m.finish("in.mp4", &report);
class ProfileMeasurer {
 public:
  ProfileMeasurer(const Profile& coarse, int width, int height, const RefineOptions& options = {});
  ~ProfileMeasurer();
  ProfileMeasurer(const ProfileMeasurer&) = delete;
  ProfileMeasurer& operator=(const ProfileMeasurer&) = delete;

  // Looks at the next frame in display order. False once it wants no more: max_frames seen, or a
  // frame of another size (which is not looked at).
  bool observe(const Frame& frame);
  bool done() const;
  int frames_seen() const;
  const Profile& coarse() const;
  int width() const;
  int height() const;
  const RefineOptions& options() const;

  // The profile measured on the frames seen (`source` names them in its history), or nullopt
  // with the reason in report->summary.
  std::optional<Profile> finish(const std::string& source, RefineReport* report = nullptr);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The profile measured again on `input` (frame size width x height): reference size = the
// frame's, alpha and colour on the frame's pixel grid. nullopt when the mark is not found in
// enough frames to measure it (the caller keeps the coarse profile).
std::optional<Profile> refine_profile(const Profile& coarse, const std::string& input, int width,
                                      int height, const RefineOptions& options = {},
                                      RefineReport* report = nullptr,
                                      const std::atomic<bool>* cancel = nullptr);

}  // namespace unmark

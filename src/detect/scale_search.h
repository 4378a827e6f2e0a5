// Finding the size of a mark that the frame's size does not fix.
//
// Why: the Sora 2 mark is 151 px wide in native 1280x704 and 704x1280 output alike (it follows
// neither the width nor the long side), 0.89-0.93 of that in other clips of the same sizes, 63 px
// inside pillarboxed portrait content of a landscape frame, and relatively larger in small
// re-encodes. A profile scaled by the frame width finds it in only some of them. So the scale is
// searched once per video, on a few frames, over a ladder of mark widths (24 px, or a sixteenth
// of the frame's short side, up to half the frame's width) and both layouts the profile has; the
// detector then follows the mark at that one scale, which keeps the per-frame cost where it was.
//
// Each frame looked at gives its best placement over every scale (the frame downscaled so the
// mark is kSearchWidth px wide, one correlation per scale and layout). A scale is decided once
// `agree` frames put their best placement, above the threshold, at neighbouring scales and at
// places seen more than once: one frame's best match over ~30 scales of random texture can be
// high (0.62-0.65 on clean real clips, at random places), the same place at the same scale again
// is the mark (0.85-0.9 on real Sora clips). A static logo of the video's own that matches a
// little repeats its place too, hence a higher bar for the mean of those (place_threshold). The scale is then refined on a finer ladder at full resolution around the
// agreeing placements.
#pragma once

#include <memory>
#include <optional>

#include "core/frame.h"
#include "detect/profile.h"

namespace unmark {

struct ScaleSearchOptions {
  int min_width = 24;        // narrowest mark searched (px), and at least short side / min_share
  int min_share = 16;
  int search_width = 48;     // the mark's width in the downscaled frame each scale is searched in
  double step = 1.15;        // ratio of neighbouring scales of the coarse ladder
  double threshold = 0.6;    // a frame's best placement counts when it correlates at least this
  int agree = 3;             // frames whose best scales agree (within a step) to decide, each at a
                             // place seen in another of them too
  double place_threshold = 0.7;  // their mean correlation
  // ... and at full resolution at the refined scale: real Sora 2 marks score 0.81-0.95 (realset),
  // a disc with eyes and four bars beside it (a static logo made like it, tests) 0.69.
  double accept = 0.76;
  int give_up = 5;
};

struct ScaleFound {
  double scale = 1;     // frame pixels per reference pixel of the profile
  double score = 0;     // mean correlation at that scale over the agreeing frames (full resolution)
  int frames = 0;       // frames that agreed
  int looked = 0;       // frames searched
};

class ScaleSearch {
 public:
  ScaleSearch(const Profile& profile, int width, int height, const ScaleSearchOptions& options = {});
  // The options for a glyph alone (glyph_profile): a smaller mark, searched a little finer.
  static ScaleSearchOptions for_glyph();
  ~ScaleSearch();
  ScaleSearch(const ScaleSearch&) = delete;
  ScaleSearch& operator=(const ScaleSearch&) = delete;

  // Searches one frame at every scale. True once the scale is decided.
  bool observe(const Frame& frame);
  // The scale, once decided.
  std::optional<ScaleFound> result() const;
  // True once `give_up` frames were looked at without a single placement above the threshold:
  // the mark is not in this video (a mark that is there shows in nearly every frame looked at),
  // and the frames still to look at would only cost.
  bool hopeless() const;
  int frames_looked() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace unmark

// A region the user names on the command line: `--region x,y,w,h[@t0-t1]`, a box in the frame's
// stored pixel coordinates, optionally limited to a time range in seconds from the video start
// (either end may be left out: `@5-`, `@-2.5`).
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/box.h"

namespace unmark {

struct TimedRegion {
  Box box;
  double start = 0.0;
  double end = std::numeric_limits<double>::infinity();

  bool active_at(double t) const { return t >= start && t < end; }
  std::string to_string() const;
};

// Parses one --region value. Throws Error{usage} naming the option and what is wrong.
TimedRegion parse_region(std::string_view text);

// Checks every region lies inside a width x height frame. Throws Error{usage} naming the region.
void validate_regions(const std::vector<TimedRegion>& regions, int width, int height);

}  // namespace unmark

#include "core/region.h"

#include <charconv>
#include <cmath>

#include "core/error.h"

namespace unmark {
namespace {

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw Error("cli", ErrorKind::usage,
              "--region '" + std::string(text) + "': " + why +
                  " (expected x,y,w,h or x,y,w,h@start-end in seconds)");
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_seconds(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::string copy(s);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && std::isfinite(out) && out >= 0;
}

}  // namespace

std::string TimedRegion::to_string() const {
  std::string s = box.to_string();
  if (start > 0 || std::isfinite(end)) {
    s += "@" + (start > 0 ? std::to_string(start) : std::string()) + "-" +
         (std::isfinite(end) ? std::to_string(end) : std::string());
  }
  return s;
}

TimedRegion parse_region(std::string_view text) {
  TimedRegion r;
  std::string_view geometry = text, times;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    geometry = text.substr(0, at);
    times = text.substr(at + 1);
  }
  int values[4];
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t comma = geometry.find(',', pos);
    if ((i < 3) != (comma != std::string_view::npos)) bad(text, "needs exactly four numbers");
    std::string_view part = geometry.substr(pos, i < 3 ? comma - pos : std::string_view::npos);
    if (!parse_int(part, values[i])) bad(text, "'" + std::string(part) + "' is not an integer");
    pos = comma + 1;
  }
  r.box = {values[0], values[1], values[2], values[3]};
  if (r.box.x < 0 || r.box.y < 0) bad(text, "x and y must not be negative");
  if (r.box.w <= 0 || r.box.h <= 0) bad(text, "width and height must be positive");
  if (!times.empty() || text.find('@') != std::string_view::npos) {
    auto dash = times.find('-');
    if (dash == std::string_view::npos) bad(text, "the time range needs a '-'");
    std::string_view a = times.substr(0, dash), b = times.substr(dash + 1);
    if (a.empty() && b.empty()) bad(text, "the time range is empty");
    if (!a.empty() && !parse_seconds(a, r.start)) bad(text, "bad start time '" + std::string(a) + "'");
    if (!b.empty() && !parse_seconds(b, r.end)) bad(text, "bad end time '" + std::string(b) + "'");
    if (r.end <= r.start) bad(text, "the end time must come after the start time");
  }
  return r;
}

void validate_regions(const std::vector<TimedRegion>& regions, int width, int height) {
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const Box& b = regions[i].box;
    if (!b.inside(width, height)) {
      throw Error("cli", ErrorKind::usage,
                  "--region " + b.to_string() + " is outside the " + std::to_string(width) + "x" +
                      std::to_string(height) + " frame (regions are x,y,w,h in pixels of the "
                      "stored frame)");
    }
  }
}

}  // namespace unmark

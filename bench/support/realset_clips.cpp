#include "realset_clips.h"

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

namespace unmark::bench {

namespace {
constexpr int kSlack = 2;  // frames not counted either way at each end of a segment
// annotations.json holds each tight box grown by 3 px (realset/README.md lists the tight ones):
// recall and cover are measured against the tight box, the mark itself.
constexpr int kAnnotationMargin = 3;
}  // namespace

std::optional<cv::Rect> RealClip::truth(int frame) const {
  for (const Segment& s : segments)
    if (frame >= s.first && frame <= s.last) return s.box;
  return std::nullopt;
}

bool RealClip::slack(int frame) const {
  for (const Segment& s : segments)
    if (std::abs(frame - s.first) <= kSlack || std::abs(frame - s.last) <= kSlack) return true;
  return false;
}

std::vector<FrameTruth> RealClip::frame_truth() const {
  std::vector<FrameTruth> out(size_t(std::max(frames, 0)));
  for (int i = 0; i < frames; ++i) out[size_t(i)] = {truth(i), !slack(i)};
  return out;
}

std::optional<std::vector<RealClip>> load_realset(const std::filesystem::path& dir) {
  std::ifstream f(dir / "annotations.json");
  if (!f) return std::nullopt;
  const nlohmann::ordered_json annotations = nlohmann::ordered_json::parse(f);
  std::vector<RealClip> clips;
  for (const auto& [file, a] : annotations.items()) {
    RealClip clip;
    clip.file = file;
    clip.path = dir / file;
    clip.kind = a.value("kind", "");
    clip.frames = a.value("frames", 0);
    for (const auto& s : a.value("segments", nlohmann::ordered_json::array()))
      clip.segments.push_back(
          {s[0].get<int>(), s[1].get<int>(),
           cv::Rect(cv::Point(s[2].get<int>() + kAnnotationMargin, s[3].get<int>() + kAnnotationMargin),
                    cv::Point(s[4].get<int>() - kAnnotationMargin, s[5].get<int>() - kAnnotationMargin))});
    clips.push_back(std::move(clip));
  }
  return clips;
}

}  // namespace unmark::bench

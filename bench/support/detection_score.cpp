#include "detection_score.h"

#include <algorithm>
#include <cstdlib>

namespace unmark::bench {

DetectionScore score_detection(const nlohmann::json& frames, const std::vector<FrameTruth>& truth) {
  DetectionScore s;
  for (const auto& fr : frames) {
    const int index = fr["frame"].get<int>();
    const FrameTruth t = index >= 0 && size_t(index) < truth.size() ? truth[size_t(index)] : FrameTruth{};
    if (!t.counted) continue;
    ++s.counted;
    bool found = false, stray = false;
    for (const auto& m : fr["marks"]) {
      const cv::Rect box(m["x"].get<int>(), m["y"].get<int>(), m["w"].get<int>(), m["h"].get<int>());
      if (!t.box || (box & *t.box).area() == 0) {
        stray = true;
        continue;
      }
      const double cover = double((box & *t.box).area()) / t.box->area();
      if (cover < 0.5 || found) continue;
      found = true;
      s.cover_sum += cover;
      s.edge_sum += std::max({std::abs(box.x - t.box->x), std::abs(box.y - t.box->y),
                              std::abs(box.br().x - t.box->br().x), std::abs(box.br().y - t.box->br().y)});
    }
    s.marked += t.box.has_value();
    s.found += found;
    s.false_frames += stray;
  }
  return s;
}

}  // namespace unmark::bench

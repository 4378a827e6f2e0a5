#include "detect/detector.h"

namespace unmark {
namespace {

class RegionDetector final : public Detector {
 public:
  explicit RegionDetector(std::vector<TimedRegion> regions) : regions_(std::move(regions)) {}
  std::string name() const override { return "regions"; }
  std::vector<Mark> detect(const Frame& frame) override {
    std::vector<Mark> marks;
    for (const TimedRegion& r : regions_)
      if (r.active_at(frame.time)) marks.push_back({r.box, 1.0f});
    return marks;
  }

 private:
  std::vector<TimedRegion> regions_;
};

}  // namespace

std::unique_ptr<Detector> make_region_detector(std::vector<TimedRegion> regions) {
  return std::make_unique<RegionDetector>(std::move(regions));
}

}  // namespace unmark

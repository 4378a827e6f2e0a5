#include "remove/inpaint_remover.h"

namespace unmark {
namespace {

// Not a remover: shows where detection put the boxes, for `unmark detect --overlay`.
class OutlineRemover final : public Remover {
 public:
  std::string name() const override { return "outline"; }
  void remove(std::span<SegmentFrame> segment) override {
    for (SegmentFrame& sf : segment) {
      if (sf.marks.empty()) continue;
      sf.frame.make_writable();
      PlaneView y = sf.frame.plane(0);
      for (const Mark& m : sf.marks) {
        Box b = m.box.grown(2).clipped(y.width, y.height);
        for (int yy = b.y; yy < b.bottom(); ++yy)
          for (int xx = b.x; xx < b.right(); ++xx) {
            int d = std::min({xx - b.x, b.right() - 1 - xx, yy - b.y, b.bottom() - 1 - yy});
            if (d > 1) continue;
            int v = d == 0 ? y.max_value() : 0;  // white outside, black inside: visible on anything
            if (y.wide()) reinterpret_cast<uint16_t*>(y.data + yy * y.stride)[xx] = uint16_t(v);
            else y.data[yy * y.stride + xx] = uint8_t(v);
          }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Remover> make_outline_remover(const RemoverOptions&) {
  return std::make_unique<OutlineRemover>();
}

}  // namespace unmark

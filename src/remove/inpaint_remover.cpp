#include "remove/inpaint_remover.h"

#include "core/error.h"
#include "remove/inpaint_kernel.h"

namespace unmark {
namespace {

class InpaintRemover final : public Remover {
 public:
  explicit InpaintRemover(const RemoverOptions& options) : options_(options) {}
  std::string name() const override { return "inpaint"; }

  void remove(std::span<SegmentFrame> segment) override {
    for (SegmentFrame& sf : segment) {
      if (sf.marks.empty()) continue;
      sf.frame.make_writable();
      for (const Mark& mark : sf.marks) inpaint_mark(sf.frame, mark, options_);
    }
  }

 private:
  RemoverOptions options_;
};

}  // namespace

void inpaint_mark(Frame& frame, const Mark& mark, const RemoverOptions& options) {
  const Box grown = mark.box.grown(std::max(0, options.margin)).clipped(frame.width(), frame.height());
  for (int p = 0; p < frame.plane_count(); ++p) {
    PlaneView plane = frame.plane(p);
    Box box = grown.subsampled(plane.shift_x, plane.shift_y);
    int feather = options.feather >> std::max(plane.shift_x, plane.shift_y);
    if (plane.wide())
      inpaint_box(reinterpret_cast<uint16_t*>(plane.data), plane.stride, plane.width, plane.height,
                  box, feather, plane.max_value());
    else
      inpaint_box(plane.data, plane.stride, plane.width, plane.height, box, feather);
  }
}

std::unique_ptr<Remover> make_inpaint_remover(const RemoverOptions& options) {
  if (options.feather < 0)
    throw Error("cli", ErrorKind::usage, "--feather must not be negative");
  return std::make_unique<InpaintRemover>(options);
}

}  // namespace unmark

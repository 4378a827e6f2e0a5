// Removal: given frames and where the marks are, put back what the marks cover. Implementations
// work on the mark's box (plus a margin) in the frame's own planar YUV, plane by plane, and change
// nothing outside the box (rounded outward to chroma resolution on the chroma planes).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/mark.h"

namespace unmark {

class Remover {
 public:
  virtual ~Remover() = default;
  // Short name for logs: "inpaint".
  virtual std::string name() const = 0;
  // Removes every frame's marks in place. `segment` holds consecutive frames in display order so
  // a remover may look across them; segments arrive in order, from one thread. The pipeline makes
  // frames with marks writable first (from a buffer pool); a remover still makes sure, so it never
  // writes into a buffer the decoder shares. Frames without marks are left untouched.
  virtual void remove(std::span<SegmentFrame> segment) = 0;
  // Segment length the remover wants (0: any): one that looks across frames asks for a long one,
  // whole from the first frame, so a frame near a segment's start still has frames after it.
  virtual int wanted_segment_frames() const { return 0; }
};

struct RemoverOptions {
  int feather = 2;  // luma pixels inside the box edge over which the fill blends into the original
  int margin = -1;  // pixels added around each box (clipped to the frame); < 0: the caller's default
  // Frames a remover that looks across time may hold at once, its segment and the frames before
  // it (0: its default). The pipeline lowers it where frames are large (memory).
  int window_frames = 0;
};

struct RemoverInfo {
  std::string name;
  std::string description;
};

// Registered removers ("auto" is not among them; it resolves to the best one).
std::vector<RemoverInfo> list_removers();
// Throws Error{usage} naming the choices for an unknown name.
std::unique_ptr<Remover> make_remover(const std::string& name, const RemoverOptions& options);

}  // namespace unmark

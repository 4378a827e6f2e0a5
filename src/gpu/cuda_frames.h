// NVDEC's frames brought down to the CPU as planar 4:2:0, the chroma split on the GPU.
//
// NVDEC writes NV12 (P010 for 10-bit): luma, then interleaved U,V pairs. The CPU stages and x264
// take planar 4:2:0, which libavcodec's own download leaves to a pass over the whole frame on the
// CPU. Here a kernel splits the chroma on the GPU (and shifts P010's samples into the low bits)
// and each plane comes down with one copy into the host frame: no pass over the frame on the CPU.
//
//   std::string why;
//   auto down = CudaFrameDownload::create(cuda_frame, &why);   // nullptr: why says what is missing
//   AVFramePtr host = down->download(cuda_frame);               // yuv420p or yuv420p10
#pragma once

#include <memory>
#include <string>

#include "core/av_ptr.h"

namespace unmark::gpu {

class CudaFrameDownload {
 public:
  // For frames like `cuda_frame` (AV_PIX_FMT_CUDA, NV12 or P010 underneath). nullptr with the
  // reason when the kernels are not built in, the driver cannot load them, or the format is
  // another (UNMARK_FAULT=cuda also says no).
  static std::unique_ptr<CudaFrameDownload> create(const AVFrame* cuda_frame, std::string* why);
  ~CudaFrameDownload();
  CudaFrameDownload(const CudaFrameDownload&) = delete;
  CudaFrameDownload& operator=(const CudaFrameDownload&) = delete;

  // A new host frame (planar, same size) with `frame`'s pixels and none of its properties.
  // Throws Error{processing} when CUDA fails.
  AVFramePtr download(const AVFrame* frame);

  struct State;

 private:
  explicit CudaFrameDownload(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// The kernels' PTX text (src/gpu/kernels/frame_kernels.cu), "" when built without them.
const char* frame_kernels_ptx();

}  // namespace unmark::gpu

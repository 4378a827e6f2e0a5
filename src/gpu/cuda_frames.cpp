#include "gpu/cuda_frames.h"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

#include "core/error.h"
#include "core/fault.h"
#include "gpu/cuda_driver.h"

namespace unmark::gpu {

namespace {

// libavutil's AVCUDADeviceContext (hwcontext_cuda.h), whose header wants cuda.h: the layout is
// FFmpeg's public ABI, declared here as the driver's types are (cuda_driver.h).
struct CudaDeviceContextLayout {
  CUcontext cuda_ctx;
  CUstream stream;
  void* internal;
};

constexpr unsigned kBlockX = 32, kBlockY = 8;

}  // namespace

struct CudaFrameDownload::State {
  const CudaDriver* cu = nullptr;
  CUcontext ctx = nullptr;
  CUstream stream = nullptr;
  CUmodule module = nullptr;
  CUfunction split_uv8 = nullptr, split_uv16 = nullptr, shift_y16 = nullptr;
  bool p010 = false;
  CUdeviceptr staging = 0;  // the planes as the host frame lays them out
  size_t staging_bytes = 0;

  // The CUDA device (and its context) is held while this lives: whoever opened it may let go first.
  AVBufferRef* device = nullptr;

  ~State() {
    if (cu && ctx && cu->cuCtxPushCurrent(ctx) == CUDA_SUCCESS) {
      if (staging) cu->cuMemFree(staging);
      if (module) cu->cuModuleUnload(module);
      CUcontext popped = nullptr;
      cu->cuCtxPopCurrent(&popped);
    }
    av_buffer_unref(&device);
  }

  void ok(CUresult r, const char* what) const {
    if (r != CUDA_SUCCESS)
      throw Error("decode", ErrorKind::processing, std::string("GPU download: ") + what + " failed: " + cu->error_text(r));
  }

  void launch(CUfunction fn, unsigned width, unsigned height, void** args) const {
    ok(cu->cuLaunchKernel(fn, (width + kBlockX - 1) / kBlockX, (height + kBlockY - 1) / kBlockY, 1, kBlockX,
                          kBlockY, 1, 0, stream, args, nullptr),
       "kernel launch");
  }

  // A pitched device-to-device copy, on the decoder's own stream.
  void copy_2d(CUdeviceptr src, size_t src_pitch, CUdeviceptr dst, size_t dst_pitch, size_t row_bytes,
               size_t rows) const {
    CudaMemcpy2D c;
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = src;
    c.srcPitch = src_pitch;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = dst;
    c.dstPitch = dst_pitch;
    c.WidthInBytes = row_bytes;
    c.Height = rows;
    ok(cu->cuMemcpy2DAsync(&c, stream), "copy on the GPU");
  }
};

// Pushes a CUDA context for a scope (libavcodec's, which NVDEC's frames live in).
class ContextScope {
 public:
  ContextScope(const CudaDriver* cu, CUcontext ctx) : cu_(cu) {
    if (CUresult r = cu->cuCtxPushCurrent(ctx); r != CUDA_SUCCESS)
      throw Error("decode", ErrorKind::processing, "GPU download: no CUDA context: " + cu->error_text(r));
  }
  ~ContextScope() {
    CUcontext popped = nullptr;
    cu_->cuCtxPopCurrent(&popped);
  }

 private:
  const CudaDriver* cu_;
};

std::unique_ptr<CudaFrameDownload> CudaFrameDownload::create(const AVFrame* frame, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return nullptr;
  };
  if (fault_injected("cuda")) return fail("CUDA failed (injected by UNMARK_FAULT=cuda)");
  const char* ptx = frame_kernels_ptx();
  if (!ptx || !*ptx) return fail("this build has no GPU kernels (built without nvcc: UNMARK_CUDA)");
  if (frame->format != AV_PIX_FMT_CUDA || !frame->hw_frames_ctx) return fail("not a CUDA frame");
  auto* frames = reinterpret_cast<const AVHWFramesContext*>(frame->hw_frames_ctx->data);
  if (frames->sw_format != AV_PIX_FMT_NV12 && frames->sw_format != AV_PIX_FMT_P010)
    return fail(std::string("NVDEC gives ") + av_get_pix_fmt_name(frames->sw_format) + ", not NV12 or P010");
  std::string driver_why;
  const CudaDriver* cu = cuda_driver(&driver_why);
  if (!cu) return fail(driver_why);
  auto s = std::make_unique<State>();
  s->device = av_buffer_ref(frames->device_ref);
  if (!s->device) return fail("out of memory");
  s->cu = cu;
  const auto* device = static_cast<const CudaDeviceContextLayout*>(frames->device_ctx->hwctx);
  s->ctx = device->cuda_ctx;
  s->stream = device->stream;
  s->p010 = frames->sw_format == AV_PIX_FMT_P010;
  try {
    ContextScope scope(cu, s->ctx);
    if (CUresult r = cu->cuModuleLoadData(&s->module, ptx); r != CUDA_SUCCESS) {
      s->module = nullptr;
      return fail("the driver cannot load the GPU kernels (" + cu->error_text(r) + "; the driver may be older than the CUDA toolkit they were built with)");
    }
    s->ok(cu->cuModuleGetFunction(&s->split_uv8, s->module, "unmark_split_uv8"), "kernel lookup");
    s->ok(cu->cuModuleGetFunction(&s->split_uv16, s->module, "unmark_split_uv16"), "kernel lookup");
    s->ok(cu->cuModuleGetFunction(&s->shift_y16, s->module, "unmark_shift_y16"), "kernel lookup");
  } catch (const Error& e) {
    return fail(e.what());
  }
  return std::unique_ptr<CudaFrameDownload>(new CudaFrameDownload(std::move(s)));
}

CudaFrameDownload::CudaFrameDownload(std::unique_ptr<State> state) : s_(std::move(state)) {}
CudaFrameDownload::~CudaFrameDownload() = default;

AVFramePtr CudaFrameDownload::download(const AVFrame* frame) {
  State& s = *s_;
  AVFramePtr host = make_av_frame();
  host->format = s.p010 ? AV_PIX_FMT_YUV420P10 : AV_PIX_FMT_YUV420P;
  host->width = frame->width;
  host->height = frame->height;
  check(av_frame_get_buffer(host.get(), 0), "decode", ErrorKind::processing, "frame allocation");

  unsigned w = unsigned(frame->width), h = unsigned(frame->height);
  unsigned cw = (w + 1) / 2, ch = (h + 1) / 2;
  // The host frame's planes lie in one buffer (av_frame_get_buffer): the staging buffer on the GPU
  // takes the same layout, so the frame comes down in one contiguous copy (a pitched copy per
  // plane into pageable memory measured twice as slow as libavcodec's own download).
  const uint8_t* base = host->data[0];
  const size_t span = size_t(host->data[2] + size_t(host->linesize[2]) * ch - base);
  const size_t off_u = size_t(host->data[1] - base), off_v = size_t(host->data[2] - base);
  if (host->data[1] < base || host->data[2] < host->data[1] || !host->buf[0] || base < host->buf[0]->data ||
      base + span > host->buf[0]->data + host->buf[0]->size)
    throw Error("decode", ErrorKind::internal, "GPU download: the host frame's planes are not in one buffer");

  ContextScope scope(s.cu, s.ctx);
  if (span > s.staging_bytes) {
    if (s.staging) s.cu->cuMemFree(s.staging);
    s.staging = 0;
    s.staging_bytes = 0;
    s.ok(s.cu->cuMemAlloc(&s.staging, span), "GPU memory for the planes");
    s.staging_bytes = span;
  }
  CUdeviceptr src_y = CUdeviceptr(reinterpret_cast<uintptr_t>(frame->data[0]));
  CUdeviceptr src_uv = CUdeviceptr(reinterpret_cast<uintptr_t>(frame->data[1]));
  unsigned uv_pitch = unsigned(frame->linesize[1]), y_pitch = unsigned(frame->linesize[0]);
  CUdeviceptr y = s.staging, u = s.staging + off_u, v = s.staging + off_v;
  unsigned pitch_y = unsigned(host->linesize[0]), pitch_c = unsigned(host->linesize[1]);
  if (unsigned(host->linesize[2]) != pitch_c)
    throw Error("decode", ErrorKind::internal, "GPU download: U and V planes of different pitches");
  void* uv_args[] = {&src_uv, &uv_pitch, &u, &v, &pitch_c, &cw, &ch};
  s.launch(s.p010 ? s.split_uv16 : s.split_uv8, cw, ch, uv_args);
  if (s.p010) {
    void* y_args[] = {&src_y, &y_pitch, &y, &pitch_y, &w, &h};
    s.launch(s.shift_y16, w, h, y_args);
  } else {
    s.copy_2d(src_y, y_pitch, y, pitch_y, w, h);  // 8-bit luma as it is
  }
  s.ok(s.cu->cuMemcpyDtoHAsync(host->data[0], s.staging, span, s.stream), "copy to the CPU");
  s.ok(s.cu->cuStreamSynchronize(s.stream), "download");
  return host;
}

}  // namespace unmark::gpu

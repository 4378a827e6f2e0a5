#include "gpu/device.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "gpu/cuda_driver.h"

namespace unmark::gpu {

namespace {

// out[i] += 1 for i < n: the smallest kernel that proves loading, launching and memory work.
const char kAddOnePtx[] = R"(
.version 7.0
.target sm_52
.address_size 64

.visible .entry unmark_add_one(.param .u64 data, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [data];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r5, 4;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.u32 %r6, [%rd4];
  add.s32 %r7, %r6, 1;
  st.global.u32 [%rd4], %r7;
DONE:
  ret;
}
)";

}  // namespace

std::string GpuInfo::driver_text() const {
  return std::to_string(driver_version / 1000) + "." + std::to_string((driver_version % 1000) / 10);
}

GpuInfo query_gpu() {
  GpuInfo info;
  if (fault_injected("cuda")) {
    info.why_not = "CUDA failed (injected by UNMARK_FAULT=cuda)";
    return info;
  }
  std::string why;
  const CudaDriver* cu = cuda_driver(&why);
  if (!cu) {
    info.why_not = why;
    return info;
  }
  cu->cuDriverGetVersion(&info.driver_version);
  int count = 0;
  if (CUresult r = cu->cuDeviceGetCount(&count); r != CUDA_SUCCESS || count == 0) {
    info.why_not = r != CUDA_SUCCESS ? "cuDeviceGetCount failed: " + cu->error_text(r) : "the driver sees no GPU";
    return info;
  }
  if (const char* pick = std::getenv("UNMARK_GPU")) info.index = std::atoi(pick);
  if (info.index < 0 || info.index >= count) {
    info.why_not = "UNMARK_GPU=" + std::to_string(info.index) + " but there are " + std::to_string(count) + " GPUs";
    return info;
  }
  CUdevice dev = 0;
  cu->cuDeviceGet(&dev, info.index);
  char name[256] = "";
  cu->cuDeviceGetName(name, sizeof name, dev);
  info.name = name;
  size_t total = 0;
  cu->cuDeviceTotalMem(&total, dev);
  info.total_bytes = int64_t(total);
  cu->cuDeviceGetAttribute(&info.cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  cu->cuDeviceGetAttribute(&info.cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  // Free memory needs a context; the primary one is shared with libavcodec's CUDA device.
  CUcontext ctx = nullptr;
  if (cu->cuDevicePrimaryCtxRetain(&ctx, dev) == CUDA_SUCCESS) {
    cu->cuCtxSetCurrent(ctx);
    size_t free = 0, t = 0;
    if (cu->cuMemGetInfo(&free, &t) == CUDA_SUCCESS) info.free_bytes = int64_t(free);
    cu->cuCtxSetCurrent(nullptr);
    cu->cuDevicePrimaryCtxRelease(dev);
  }
  info.present = true;
  return info;
}

GpuTier tier_for(int64_t total_bytes) {
  const double gb = double(total_bytes) / (1024.0 * 1024 * 1024);
  if (gb >= 24) return {"High-end", 32, 16, 450};
  if (gb >= 16) return {"Upper mid-range", 24, 12, 360};
  if (gb >= 10) return {"Mid-range", 20, 10, 300};
  if (gb >= 8) return {"Entry", 16, 8, 240};
  return {"Low-memory", 12, 6, 180};
}

std::string cuda_self_test(const GpuInfo& gpu) {
  if (!gpu.present) return gpu.why_not;
  std::string why;
  const CudaDriver* cu = cuda_driver(&why);
  if (!cu) return why;
  CUdevice dev = 0;
  cu->cuDeviceGet(&dev, gpu.index);
  CUcontext ctx = nullptr;
  if (CUresult r = cu->cuDevicePrimaryCtxRetain(&ctx, dev); r != CUDA_SUCCESS) return "no context: " + cu->error_text(r);
  cu->cuCtxSetCurrent(ctx);
  std::string failure;
  const unsigned n = 4096;
  std::vector<int> host(n);
  for (unsigned i = 0; i < n; ++i) host[i] = int(i);
  CUdeviceptr buffer = 0;
  CUmodule module = nullptr;
  CUfunction fn = nullptr;
  if (CUresult r = cu->cuMemAlloc(&buffer, n * sizeof(int)); r != CUDA_SUCCESS) {
    failure = "allocation failed: " + cu->error_text(r);
  } else if (CUresult r2 = cu->cuMemcpyHtoD(buffer, host.data(), n * sizeof(int)); r2 != CUDA_SUCCESS) {
    failure = "copy to the GPU failed: " + cu->error_text(r2);
  } else if (CUresult r3 = cu->cuModuleLoadData(&module, kAddOnePtx); r3 != CUDA_SUCCESS) {
    failure = "the kernel did not load: " + cu->error_text(r3);
  } else if (CUresult r4 = cu->cuModuleGetFunction(&fn, module, "unmark_add_one"); r4 != CUDA_SUCCESS) {
    failure = "the kernel is missing: " + cu->error_text(r4);
  } else {
    unsigned count = n;
    void* args[] = {&buffer, &count};
    CUresult r5 = cu->cuLaunchKernel(fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr);
    if (r5 == CUDA_SUCCESS) r5 = cu->cuCtxSynchronize();
    if (r5 != CUDA_SUCCESS) failure = "the kernel failed: " + cu->error_text(r5);
    else if (CUresult r6 = cu->cuMemcpyDtoH(host.data(), buffer, n * sizeof(int)); r6 != CUDA_SUCCESS)
      failure = "copy back failed: " + cu->error_text(r6);
    else
      for (unsigned i = 0; i < n && failure.empty(); ++i)
        if (host[i] != int(i) + 1) failure = "the kernel computed a wrong answer at " + std::to_string(i);
  }
  if (module) cu->cuModuleUnload(module);
  if (buffer) cu->cuMemFree(buffer);
  cu->cuCtxSetCurrent(nullptr);
  cu->cuDevicePrimaryCtxRelease(dev);
  return failure;
}

// For the tests: the kernel's text, so ptxas can check it where the toolkit is installed.
const char* self_test_ptx() { return kAddOnePtx; }

}  // namespace unmark::gpu

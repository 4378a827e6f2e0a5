#include "gpu/cuda_driver.h"

#include <dlfcn.h>

#include <mutex>

namespace unmark::gpu {

namespace {

struct Loaded {
  CudaDriver driver{};
  bool ok = false;
  std::string why;
};

template <class F>
bool resolve(void* lib, const char* name, F& fn, std::string& why) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) why = std::string("libcuda.so.1 lacks ") + name + " (driver too old)";
  return fn != nullptr;
}

Loaded load() {
  Loaded l;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    l.why = "libcuda.so.1 not found: no NVIDIA driver on this machine (or not given to this container)";
    return l;
  }
  CudaDriver& d = l.driver;
  bool ok = resolve(lib, "cuInit", d.cuInit, l.why) && resolve(lib, "cuDriverGetVersion", d.cuDriverGetVersion, l.why) &&
            resolve(lib, "cuDeviceGetCount", d.cuDeviceGetCount, l.why) && resolve(lib, "cuDeviceGet", d.cuDeviceGet, l.why) &&
            resolve(lib, "cuDeviceGetName", d.cuDeviceGetName, l.why) &&
            resolve(lib, "cuDeviceTotalMem_v2", d.cuDeviceTotalMem, l.why) &&
            resolve(lib, "cuDeviceGetAttribute", d.cuDeviceGetAttribute, l.why) &&
            resolve(lib, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, l.why) &&
            resolve(lib, "cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease, l.why) &&
            resolve(lib, "cuCtxSetCurrent", d.cuCtxSetCurrent, l.why) &&
            resolve(lib, "cuCtxSynchronize", d.cuCtxSynchronize, l.why) &&
            resolve(lib, "cuMemGetInfo_v2", d.cuMemGetInfo, l.why) && resolve(lib, "cuMemAlloc_v2", d.cuMemAlloc, l.why) &&
            resolve(lib, "cuMemFree_v2", d.cuMemFree, l.why) && resolve(lib, "cuMemcpyHtoD_v2", d.cuMemcpyHtoD, l.why) &&
            resolve(lib, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH, l.why) &&
            resolve(lib, "cuModuleLoadData", d.cuModuleLoadData, l.why) &&
            resolve(lib, "cuModuleUnload", d.cuModuleUnload, l.why) &&
            resolve(lib, "cuModuleGetFunction", d.cuModuleGetFunction, l.why) &&
            resolve(lib, "cuLaunchKernel", d.cuLaunchKernel, l.why) &&
            resolve(lib, "cuGetErrorString", d.cuGetErrorString, l.why) &&
            resolve(lib, "cuCtxPushCurrent_v2", d.cuCtxPushCurrent, l.why) &&
            resolve(lib, "cuCtxPopCurrent_v2", d.cuCtxPopCurrent, l.why) &&
            resolve(lib, "cuMemcpy2DAsync_v2", d.cuMemcpy2DAsync, l.why) &&
            resolve(lib, "cuMemcpyDtoHAsync_v2", d.cuMemcpyDtoHAsync, l.why) &&
            resolve(lib, "cuStreamSynchronize", d.cuStreamSynchronize, l.why);
  if (!ok) return l;  // the library stays loaded: harmless, and dlclose of a driver is not
  if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
    l.why = "cuInit failed: " + d.error_text(r) + " (driver and kernel module mismatched, or no device)";
    return l;
  }
  l.ok = true;
  return l;
}

}  // namespace

std::string CudaDriver::error_text(CUresult r) const {
  const char* text = nullptr;
  if (cuGetErrorString && cuGetErrorString(r, &text) == CUDA_SUCCESS && text) return text;
  return "CUDA error " + std::to_string(r);
}

const CudaDriver* cuda_driver(std::string* why) {
  static const Loaded loaded = load();
  if (!loaded.ok && why) *why = loaded.why;
  return loaded.ok ? &loaded.driver : nullptr;
}

bool driver_library_present(const char* soname) {
  void* lib = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
  return lib != nullptr;  // kept loaded: the decoder or encoder will want it
}

}  // namespace unmark::gpu

// The GPU unmark may use: what it is, how much memory it has, and the work sizes that memory
// allows (the old worker's tiers). Querying never fails: no driver or no device is an answer.
//
//   GpuInfo gpu = query_gpu();
//   if (gpu.present) log("Detected GPU: {} with {:.1f} GB VRAM", gpu.name, gpu.total_gb());
//   GpuTier tier = tier_for(gpu.total_bytes);   // batch sizes and segment length
#pragma once

#include <cstdint>
#include <string>

#include "core/fault.h"

namespace unmark::gpu {

struct GpuInfo {
  bool present = false;
  std::string why_not;        // when not present: no driver, no device, injected fault
  int index = 0;
  std::string name;           // "NVIDIA H100 80GB HBM3"
  int64_t total_bytes = 0, free_bytes = 0;
  int cc_major = 0, cc_minor = 0;
  int driver_version = 0;     // CUDA version the driver supports, e.g. 12040
  // In GiB, as nvidia-smi and the old worker count: an H100 80GB has 79.2.
  double total_gb() const { return double(total_bytes) / double(1 << 30); }
  std::string driver_text() const;  // "12.4"
};

// Device 0 (or UNMARK_GPU=N). UNMARK_FAULT containing "cuda" answers "not present" as if the
// driver had failed, so the CPU fallback runs in tests on any machine.
GpuInfo query_gpu();

struct GpuTier {
  std::string name;         // "High-end" ...
  int detect_batch = 12, inpaint_batch = 6, segment = 180;
};

// By total memory: >= 24 GB 32/16/450; 16-24 GB 24/12/360; 10-16 GB 20/10/300; 8-10 GB 16/8/240;
// < 8 GB 12/6/180.
GpuTier tier_for(int64_t total_bytes);

// Allocates, copies and runs a small kernel (PTX, JIT-compiled by the driver) on the device and
// checks the answer. Returns "" when it worked, else what failed.
std::string cuda_self_test(const GpuInfo& gpu);

// The self test's kernel source (PTX), for the tests to check with ptxas.
const char* self_test_ptx();

// UNMARK_FAULT (nvdec, nvenc, cuda, oom): core/fault.h.
using unmark::fault_injected;

}  // namespace unmark::gpu

// `unmark doctor`: every part of the GPU path checked for real (driver, device, a CUDA kernel,
// NVDEC and NVENC trials, the libraries a container needs), each with the reason it failed and
// how to fix it, and which path a job would take here. It replaces the old worker's
// diagnose_gpu_pipeline.sh.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/device.h"

namespace unmark::gpu {

struct DoctorCheck {
  std::string name;
  std::string status;  // pass | fail | warn | skip | info
  std::string detail;
  std::string fix;     // what to do, when it did not pass
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  std::string path;         // the best path that works here: "gpu: NVDEC -> CUDA -> NVENC", "cpu: ..."
  bool ok = false;          // the best path this machine could have works
  GpuInfo card;             // what query_gpu() found (present or not, and why)
};

// `quick`: no trials that take more than a few milliseconds (the worker's start-up check).
DoctorReport run_doctor(bool quick = false);
nlohmann::json to_json(const DoctorReport& report);
std::string to_text(const DoctorReport& report);

}  // namespace unmark::gpu

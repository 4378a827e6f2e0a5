#include "gpu/doctor.h"

#include <algorithm>
#include <cstdio>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include "gpu/codec_checks.h"
#include "gpu/cuda_frames.h"
#include "gpu/cuda_driver.h"
#include "gpu/device.h"

namespace unmark::gpu {

namespace {

// Data-center cards without NVENC: for them a failed NVENC is expected, not a fault.
bool card_without_nvenc(const std::string& name) {
  for (const char* model : {"H100", "H200", "H800", "A100", "A800", "A30", "B200", "B100", "GH200"})
    if (name.find(model) != std::string::npos) return true;
  return false;
}

std::string gb(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", double(bytes) / double(1 << 30));  // GiB, as nvidia-smi
  return text;
}

}  // namespace

DoctorReport run_doctor(bool quick) {
  DoctorReport r;
  auto add = [&](std::string name, std::string status, std::string detail, std::string fix = "") {
    r.checks.push_back({std::move(name), std::move(status), std::move(detail), std::move(fix)});
  };
  r.card = query_gpu();
  const GpuInfo& gpu = r.card;
  std::string driver_why;
  const bool driver = !fault_injected("cuda") && cuda_driver(&driver_why) != nullptr;
  bool cuda_ok = false, nvdec_ok = false, nvenc_ok = false;
  if (!driver) {
    // Not a failure of this machine's best path (the CPU one), but what a GPU user must fix.
    add("driver", "warn", gpu.why_not.empty() ? driver_why : gpu.why_not,
        "install the NVIDIA driver (R535 or newer); in a container start it with the NVIDIA runtime "
        "(docker run --gpus all) and NVIDIA_DRIVER_CAPABILITIES=compute,video,utility");
  } else {
    add("driver", "pass", "NVIDIA driver for CUDA " + gpu.driver_text());
  }
  if (!gpu.present) {
    if (driver) add("gpu", "fail", gpu.why_not, "check nvidia-smi; CUDA_VISIBLE_DEVICES / UNMARK_GPU may hide the card");
    else add("gpu", "skip", "no driver");
  } else {
    const GpuTier tier = tier_for(gpu.total_bytes);
    add("gpu", "pass",
        gpu.name + ", " + gb(gpu.total_bytes) + " (" + gb(gpu.free_bytes) + " free), compute " +
            std::to_string(gpu.cc_major) + "." + std::to_string(gpu.cc_minor) + "; " + tier.name + " tier: detect batch " +
            std::to_string(tier.detect_batch) + ", inpaint batch " + std::to_string(tier.inpaint_batch) + ", segment " +
            std::to_string(tier.segment));
    std::string why = cuda_self_test(gpu);
    cuda_ok = why.empty();
    if (cuda_ok) add("cuda", "pass", "allocation, copies and a kernel ran and computed the right answer");
    else add("cuda", "fail", why, "a driver/toolkit mismatch or a busy or faulty GPU: check nvidia-smi and dmesg");
  }
  if (!gpu.present) add("cuda", "skip", "no GPU");

  // NVDEC and NVENC need libraries of the driver that a container only gets with "video".
  const bool nvcuvid = driver && driver_library_present("libnvcuvid.so.1");
  const bool nvencode = driver && driver_library_present("libnvidia-encode.so.1");
  const char* video_fix =
      "the container lacks the driver's video libraries: set NVIDIA_DRIVER_CAPABILITIES=compute,video,utility "
      "(or all) when starting it";
  if (!gpu.present) {
    add("nvdec", "skip", "no GPU");
  } else if (!nvcuvid) {
    add("nvdec", "fail", "libnvcuvid.so.1 is missing", video_fix);
  } else if (quick) {
    add("nvdec", "info", "libnvcuvid.so.1 present (trial skipped)");
    nvdec_ok = true;
  } else {
    std::string why = nvdec_trial();
    nvdec_ok = why.empty();
    if (nvdec_ok) add("nvdec", "pass", "decoded a generated H.264 clip into CUDA frames");
    else add("nvdec", "fail", why, "update the driver; check that libavcodec was built with the cuda hwaccel (ffmpeg -hwaccels)");
  }
  // The kernels that split NVDEC's chroma: a warning when missing, since libavcodec's download and
  // the CPU split stand in (slower), not a failure.
  if (!gpu.present || !nvdec_ok) {
    add("kernels", "skip", !gpu.present ? "no GPU" : "no NVDEC");
  } else if (!*frame_kernels_ptx()) {
    add("kernels", "info", "built without the GPU kernels: NVDEC's chroma is split on the CPU",
        "build where nvcc is found (cmake -DUNMARK_CUDA=ON)");
  } else if (quick) {
    add("kernels", "info", "built in (trial skipped)");
  } else if (std::string why = kernel_trial(); why.empty()) {
    add("kernels", "pass", "split NVDEC's chroma on the GPU: the same pixels as libavcodec's download");
  } else {
    add("kernels", "warn", why + ": NVDEC's chroma is split on the CPU instead",
        "update the NVIDIA driver to one as new as the CUDA toolkit the kernels were built with (CUDA 13: R580 or newer)");
  }
  if (!gpu.present) {
    add("nvenc", "skip", "no GPU");
  } else if (!nvencode) {
    if (card_without_nvenc(gpu.name))
      add("nvenc", "warn", gpu.name + " has no NVENC: libx264 encodes (decode and removal stay on the GPU)");
    else
      add("nvenc", "fail", "libnvidia-encode.so.1 is missing", video_fix);
  } else if (quick) {
    add("nvenc", "info", "libnvidia-encode.so.1 present (trial skipped)");
    nvenc_ok = !card_without_nvenc(gpu.name);
  } else {
    std::string why = encode_trial("h264_nvenc");
    nvenc_ok = why.empty();
    if (nvenc_ok) add("nvenc", "pass", "encoded 10 frames with h264_nvenc");
    else if (card_without_nvenc(gpu.name))
      add("nvenc", "warn", gpu.name + " has no NVENC (" + why + "): libx264 encodes");
    else
      add("nvenc", "fail", why, "too many NVENC sessions (consumer cards allow few), or an old driver");
  }
  // Quick: that the encoder is in this FFmpeg; otherwise a real encode.
  std::string x264 = !quick                                   ? encode_trial("libx264")
                     : avcodec_find_encoder_by_name("libx264") ? ""
                                                                : "libx264 is not in this FFmpeg build";
  if (x264.empty()) add("x264", "pass", quick ? "libx264 present" : "encoded 10 frames with libx264");
  else add("x264", "fail", x264, "install FFmpeg built with libx264 (Debian/Ubuntu: libavcodec59/60 from the main archive)");
  add("torch", "info", "not built in: neural back-ends (a user's YOLO or LaMa model) need a build with libtorch");

  const bool cpu_ok = x264.empty();
  if (gpu.present) {
    // The GPU is here: the best path is NVDEC -> CUDA -> NVENC, or -> x264 on a card without NVENC.
    r.ok = cuda_ok && nvdec_ok && (nvenc_ok || (card_without_nvenc(gpu.name) && cpu_ok));
    r.path = cuda_ok ? std::string("gpu: ") + (nvdec_ok ? "NVDEC" : "CPU decode") + " -> CUDA -> " +
                           (nvenc_ok ? "NVENC" : "libx264")
                     : "cpu: libavcodec -> CPU removal -> libx264 (CUDA failed)";
  } else {
    r.ok = cpu_ok;
    r.path = "cpu: libavcodec -> CPU removal -> libx264";
  }
  return r;
}

nlohmann::json to_json(const DoctorReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const DoctorCheck& c : r.checks) {
    nlohmann::json j = {{"name", c.name}, {"status", c.status}, {"detail", c.detail}};
    if (!c.fix.empty()) j["fix"] = c.fix;
    checks.push_back(j);
  }
  nlohmann::json gpu = nlohmann::json::object();
  if (const GpuInfo& g = r.card; g.present)
    gpu = {{"name", g.name},
           {"total_bytes", g.total_bytes},
           {"free_bytes", g.free_bytes},
           {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
           {"driver_cuda", g.driver_text()},
           {"tier", tier_for(g.total_bytes).name}};
  return {{"ok", r.ok}, {"path", r.path}, {"gpu", gpu}, {"checks", checks}};
}

std::string to_text(const DoctorReport& r) {
  std::string out;
  for (const DoctorCheck& c : r.checks) {
    std::string status = c.status;
    std::transform(status.begin(), status.end(), status.begin(), ::toupper);
    char head[64];
    std::snprintf(head, sizeof head, "%-5s %-7s ", status.c_str(), c.name.c_str());
    out += head + c.detail + "\n";
    if (!c.fix.empty()) out += "              fix: " + c.fix + "\n";
  }
  out += "path: " + r.path + (r.ok ? " (works)\n" : " (not the best this machine could do: see above)\n");
  return out;
}

}  // namespace unmark::gpu

// The GPU module on any machine: the device query and `unmark doctor` answer without a driver
// (the CPU path, with the fix for the GPU one), faults injected with UNMARK_FAULT take the same
// branch, the tiers follow the old worker's table, and the self test's kernel assembles.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "gpu/cuda_frames.h"
#include "gpu/device.h"
#include "support/media.h"

using namespace unmark::gpu;
using nlohmann::json;

namespace {

std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

json check(const json& report, const std::string& name) {
  for (const json& c : report["checks"])
    if (c["name"] == name) return c;
  return json();
}

}  // namespace

TEST(Gpu, TiersFollowTheOldWorkersTable) {
  const int64_t GiB = int64_t(1) << 30;
  struct Row { int64_t bytes; int detect, inpaint, segment; };
  for (Row r : {Row{80 * GiB, 32, 16, 450}, Row{24 * GiB, 32, 16, 450}, Row{20 * GiB, 24, 12, 360},
                Row{12 * GiB, 20, 10, 300}, Row{8 * GiB, 16, 8, 240}, Row{6 * GiB, 12, 6, 180}}) {
    GpuTier t = tier_for(r.bytes);
    EXPECT_EQ(t.detect_batch, r.detect) << r.bytes / GiB << " GiB";
    EXPECT_EQ(t.inpaint_batch, r.inpaint);
    EXPECT_EQ(t.segment, r.segment);
  }
  EXPECT_EQ(tier_for(80 * GiB).name, "High-end");
}

TEST(Gpu, InjectedCudaFaultReadsAsNoGpu) {
  setenv("UNMARK_FAULT", "oom,cuda", 1);
  GpuInfo g = query_gpu();
  unsetenv("UNMARK_FAULT");
  EXPECT_FALSE(g.present);
  EXPECT_NE(g.why_not.find("UNMARK_FAULT=cuda"), std::string::npos) << g.why_not;
  EXPECT_FALSE(fault_injected("cuda"));
}

TEST(Gpu, SelfTestKernelAssembles) {
  const char* ptxas = "/usr/local/cuda/bin/ptxas";
  if (!std::filesystem::exists(ptxas)) GTEST_SKIP() << "no CUDA toolkit (ptxas) here";
  const std::string dir = unmark::test::temp_dir("gpu_ptx");
  std::ofstream(dir + "/k.ptx") << self_test_ptx();
  auto [rc, out] = run(std::string(ptxas) + " -arch=sm_75 " + dir + "/k.ptx -o " + dir + "/k.cubin 2>&1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/k.cubin"));
}

TEST(Gpu, FrameKernelsAssembleForEveryTargetCard) {
  // The kernels that split NVDEC's chroma (gpu/cuda_frames.h), as the driver will JIT them: from
  // Turing (sm_75) to Hopper (sm_90). Running them needs a GPU (see the closing notes).
  const std::string ptx = frame_kernels_ptx();
  if (ptx.empty()) GTEST_SKIP() << "built without the GPU kernels (no nvcc, or UNMARK_CUDA=OFF)";
  for (const char* entry : {"unmark_split_uv8", "unmark_split_uv16", "unmark_shift_y16"})
    EXPECT_NE(ptx.find(std::string(".entry ") + entry), std::string::npos) << entry;
  const char* ptxas = "/usr/local/cuda/bin/ptxas";
  if (!std::filesystem::exists(ptxas)) GTEST_SKIP() << "no ptxas here to assemble them with";
  const std::string dir = unmark::test::temp_dir("gpu_frame_kernels");
  std::ofstream(dir + "/k.ptx") << ptx;
  for (const char* arch : {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90"}) {
    auto [rc, out] = run(std::string(ptxas) + " -arch=" + arch + " " + dir + "/k.ptx -o " + dir + "/k_" + arch + ".cubin 2>&1");
    EXPECT_EQ(rc, 0) << arch << ": " << out;
  }
}

TEST(Gpu, DoctorNamesThePathAndHowToFixTheGpuOne) {
  auto [rc, out] = run(std::string(UNMARK_BINARY) + " doctor --json 2>/dev/null");
  json report = json::parse(out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << out;
  EXPECT_EQ(check(report, "x264")["status"], "pass") << out;
  if (!query_gpu().present) {
    // The CPU path is this machine's best: it works, so the doctor exits 0, and says what a GPU needs.
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(report["ok"].get<bool>());
    EXPECT_EQ(report["path"].get<std::string>().rfind("cpu:", 0), 0u);
    EXPECT_EQ(check(report, "driver")["status"], "warn");
    EXPECT_NE(check(report, "driver")["fix"].get<std::string>().find("NVIDIA_DRIVER_CAPABILITIES=compute,video,utility"),
              std::string::npos);
    EXPECT_EQ(check(report, "nvenc")["status"], "skip");
  } else {
    EXPECT_EQ(check(report, "cuda")["status"], "pass") << out;
  }

  // With CUDA failing on purpose the doctor says so, in text too.
  auto [rc2, text] = run("UNMARK_FAULT=cuda " + std::string(UNMARK_BINARY) + " doctor 2>/dev/null");
  EXPECT_NE(text.find("injected by UNMARK_FAULT=cuda"), std::string::npos) << text;
  EXPECT_NE(text.find("path: cpu:"), std::string::npos) << text;
  EXPECT_NE(text.find("PASS  x264"), std::string::npos) << text;
}

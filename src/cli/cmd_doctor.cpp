#include <cstdio>

#include "cli/commands.h"
#include "core/json_text.h"
#include "gpu/doctor.h"

namespace unmark::cli {

Command add_doctor_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("doctor", "Check the GPU path (driver, CUDA, NVDEC, NVENC) and the encoders; say how to fix what fails");
  auto json = std::make_shared<bool>(false);
  auto quick = std::make_shared<bool>(false);
  sub->add_flag("--json", *json, "The checks as JSON");
  sub->add_flag("--quick", *quick, "Skip the trials that encode or decode");
  return [json, quick] {
    gpu::DoctorReport report = gpu::run_doctor(*quick);
    if (*json) std::printf("%s\n", dump_json(gpu::to_json(report), 2).c_str());
    else std::fputs(gpu::to_text(report).c_str(), stdout);
    return report.ok ? 0 : 1;
  };
}

}  // namespace unmark::cli

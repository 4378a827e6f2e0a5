// The old worker's RunPod job input, as `unmark worker` takes it: parsed and turned into a job
// request. Only ApiError may come out of a bad input.
#include <cstdint>
#include <string_view>

#include "core/json_text.h"
#include "serve/job.h"
#include "worker/job_handler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json body = unmark::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), false);
  if (body.is_discarded() || !body.is_object() || !body.contains("input")) return 0;
  try {
    std::vector<std::string> unknown;
    unmark::worker::request_from_input(body["input"], &unknown);
  } catch (const unmark::serve::ApiError&) {
  }
  return 0;
}

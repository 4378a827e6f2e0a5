// A REST job body: parsed, validated into a job request, stored and read back as the job store
// does. Only ApiError (a 4xx naming the field) may come out of a bad body; anything else is a bug.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/json_text.h"
#include "serve/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json body = unmark::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), false);
  if (body.is_discarded()) return 0;
  try {
    unmark::serve::JobRequest request = unmark::serve::parse_job_request(body);
    const std::string stored = unmark::dump_json(unmark::serve::to_json(request));
    unmark::serve::job_request_from_json(unmark::parse_json(stored));
  } catch (const unmark::serve::ApiError&) {
  }
  return 0;
}

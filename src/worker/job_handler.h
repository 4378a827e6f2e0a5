// What `unmark worker` does with one job's input, in RunPod's and the local API's mode alike: the
// old Python worker's input, accepted as is, becomes a JobRequest (the service's job model), runs
// through execute_job with the service's storage guards, and answers in the old output shape:
//
//   {"status": "success", "result": {"result_url", "filename"}, "stats": {...}}
//   {"status": "error", "error": "stage: reason", "stats": {...}}
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "serve/job.h"
#include "serve/storage.h"

namespace unmark::worker {

struct HandlerOptions {
  std::string data_dir = "/tmp/unmark-worker";  // jobs/<id>/ while running, results/ when not in S3
  serve::StorageOptions storage;
};

// The old input as a JobRequest. Throws serve::ApiError naming the field for a wrong type or a
// missing source. `unknown` receives the names of fields it does not know (logged, not fatal).
serve::JobRequest request_from_input(const nlohmann::json& input, std::vector<std::string>* unknown);

struct JobOutcome {
  nlohmann::json output;  // the old shape (status success|error), plus stats
  std::string error;      // "" on success; RunPod's top-level "error" otherwise
  bool cancelled = false;
};

class JobHandler {
 public:
  explicit JobHandler(HandlerOptions options);
  // Runs one job. Never throws: every failure is an outcome with the reason. `progress` gets the
  // pipeline's progress (called from its encode thread).
  JobOutcome run(const std::string& job_id, const nlohmann::json& input, const ProgressFn& progress,
                 const std::atomic<bool>* cancel) const;

  const HandlerOptions& options() const { return options_; }

 private:
  HandlerOptions options_;
  serve::Storage storage_;
};

}  // namespace unmark::worker

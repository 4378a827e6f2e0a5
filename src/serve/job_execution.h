// One job from source to stored result, as both `unmark serve` (its runner) and `unmark worker`
// run it: fetch the source when it is not a local file, run the pipeline, store the result at the
// job's target. Partial files are removed when it fails or is cancelled.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "pipeline/pipeline.h"
#include "serve/job.h"
#include "serve/storage.h"

namespace unmark::serve {

struct JobExecution {
  RunReport report;
  std::string result_path;   // the result in the job's directory
  std::string preview_path;  // before/after crops ("" for re-encode-only jobs)
  std::string result_url;    // the stored target's URL (presigned for S3); "" when none
  std::string target;        // where it was stored ("" when nowhere)
};

struct JobHooks {
  std::function<void(const std::string& stage)> on_stage;  // fetch, remove, store
  ProgressFn on_progress;
};

// `dir`: the job's own directory (created). `source_path`: an uploaded file, or "" to take the
// request's source_uri. Throws Error (stage, kind, reason); Error{cancelled} when `cancel` is set.
JobExecution execute_job(const JobRequest& request, const std::string& job_id, const std::string& dir,
                         const Storage& storage, const std::string& source_path, const std::atomic<bool>* cancel,
                         const JobHooks& hooks = {});

}  // namespace unmark::serve

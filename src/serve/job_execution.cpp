#include "serve/job_execution.h"

#include <filesystem>

#include "core/error.h"

namespace unmark::serve {

namespace fs = std::filesystem;

JobExecution execute_job(const JobRequest& req, const std::string& job_id, const std::string& dir,
                         const Storage& storage, const std::string& source_path, const std::atomic<bool>* cancel,
                         const JobHooks& hooks) {
  auto stage = [&](const char* name) {
    if (hooks.on_stage) hooks.on_stage(name);
  };
  JobExecution done;
  done.result_path = dir + "/result." + req.options.container;
  done.preview_path = req.type == "transcode" ? "" : dir + "/preview.png";
  std::string fetched;
  try {
    fs::create_directories(dir);
    std::string input = source_path;
    if (input.empty()) input = storage.local_path(req.source_uri);
    if (input.empty()) {
      stage("fetch");
      fetched = dir + "/source";
      storage.fetch(req.source_uri, req.access(), fetched, cancel);
      input = fetched;
    }
    stage("remove");
    RemoveJob remove_job = make_remove_job(req, input, done.result_path);
    remove_job.preview = done.preview_path;
    done.report = run_remove(remove_job, hooks.on_progress, cancel);
    if (!req.target_uri.empty()) {
      stage("store");
      done.target = req.target_for(job_id);
      done.result_url = storage.store(done.result_path, done.target, req.overwrite, req.access(), cancel);
    }
    if (!fetched.empty()) fs::remove(fetched);
    return done;
  } catch (...) {
    std::error_code ec;
    fs::remove(done.result_path, ec);
    if (!done.preview_path.empty()) fs::remove(done.preview_path, ec);
    if (!fetched.empty()) fs::remove(fetched, ec);
    throw;
  }
}

}  // namespace unmark::serve

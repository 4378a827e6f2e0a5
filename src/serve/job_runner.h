// Runs queued jobs: N worker threads take jobs from the store (priority, then FIFO), fetch the
// source, run the same pipeline as `unmark remove`, store the result, and record progress and the
// outcome. A janitor enforces the per-job timeout and deletes finished jobs after --keep-hours.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/job_store.h"
#include "serve/storage.h"

namespace unmark::serve {

struct RunnerOptions {
  std::string data_dir;     // jobs/<id>/ holds each job's source copy, result and preview
  int concurrency = 1;      // jobs at once
  double job_timeout_s = 0; // 0: none
  int max_attempts = 3;     // a job is retried after a server crash until it was taken this often
  double keep_hours = 24;   // finished jobs and their files are deleted after this
};

struct RunnerStats {
  int running = 0;
  int64_t frames_processed = 0;                   // by finished and running jobs since start
  double fps = 0;                                 // sum over running jobs
  std::map<std::string, int64_t> failures_by_stage;
  int64_t completed = 0, failed = 0, cancelled = 0;  // since start
};

class JobRunner {
 public:
  JobRunner(JobStore& store, const Storage& storage, RunnerOptions options);
  ~JobRunner();  // stop()

  void start();
  // Stops taking jobs; running jobs are stopped and put back in the queue (a graceful restart
  // must not cost them an attempt). Returns when every worker has ended.
  void stop();
  // A job was queued: wake an idle worker.
  void wake();
  // Stops a job this runner is processing; it ends cancelled within a second and its partial
  // files are removed. False when the job is not running here.
  bool cancel(const std::string& id);
  RunnerStats stats();

  const RunnerOptions& options() const { return options_; }
  // The job's own directory (created on demand by the runner and the upload handler).
  std::string job_dir(const std::string& id) const;
  // Deletes a job's directory.
  void remove_files(const std::string& id) const;
  // Removes what a killed process left (see job_runner.cpp): at start and with the cleanup.
  void sweep_orphans() const;

 private:
  enum class StopReason { none, user, timeout, shutdown };
  struct Running {
    std::atomic<bool> cancel{false};
    std::atomic<StopReason> reason{StopReason::none};
    double started = 0;
    std::atomic<int64_t> frames{0};
    std::atomic<double> fps{0};
  };

  void worker_loop();
  void janitor_loop();
  void run(Job job, Running& running);

  JobStore& store_;
  const Storage& storage_;
  RunnerOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool stopping_ = false;
  uint64_t submitted_ = 0;  // wake() calls: a worker that found the queue empty waits for a change
  bool started_ = false;
  std::map<std::string, std::shared_ptr<Running>> running_;
  RunnerStats totals_;
  std::vector<std::thread> workers_;
  std::thread janitor_;
};

}  // namespace unmark::serve

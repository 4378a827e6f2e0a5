#include "serve/job_runner.h"

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "pipeline/pipeline.h"
#include "serve/job_execution.h"

namespace unmark::serve {

namespace fs = std::filesystem;

JobRunner::JobRunner(JobStore& store, const Storage& storage, RunnerOptions options)
    : store_(store), storage_(storage), options_(std::move(options)) {
  if (options_.concurrency < 1) options_.concurrency = 1;
}

JobRunner::~JobRunner() { stop(); }

// What a kill -9 leaves behind: an upload whose job was never stored (its directory has no row),
// a result's temporary ".NAME.unmark-*.part". Removed once nothing in them has changed for
// kOrphanAge (another process on the same data directory may be writing them now).
constexpr auto kOrphanAge = std::chrono::minutes(10);

void JobRunner::sweep_orphans() const {
  auto log = log_for("serve");
  std::error_code ec;
  const auto old_before = fs::file_time_type::clock::now() - kOrphanAge;
  auto recent = [&](const fs::path& dir) {
    std::error_code e;
    if (fs::last_write_time(dir, e) > old_before) return true;
    for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, e))
      if (std::error_code te; fs::last_write_time(entry.path(), te) > old_before) return true;
    return false;
  };
  for (const auto& entry : fs::directory_iterator(fs::path(options_.data_dir) / "jobs", ec)) {
    std::error_code e;
    if (!entry.is_directory(e) || entry.is_symlink(e)) continue;
    const std::string id = entry.path().filename().string();
    try {
      if (!store_.get(id)) {
        if (recent(entry.path())) continue;
        fs::remove_all(entry.path(), e);
        log->info("removed {}: files of a job that was never stored (an upload cut off)", entry.path().string());
        continue;
      }
    } catch (const std::exception& ex) {
      log->warn("sweeping {}: {}", entry.path().string(), ex.what());
      continue;
    }
    for (const auto& file : fs::directory_iterator(entry.path(), e)) {
      const std::string name = file.path().filename().string();
      std::error_code fe;
      if (name.size() > 5 && name.front() == '.' && name.find(".unmark-") != std::string::npos &&
          name.ends_with(".part") && !file.is_symlink(fe) && fs::last_write_time(file.path(), fe) < old_before) {
        fs::remove(file.path(), fe);
        log->info("removed {}: a result left half-written", file.path().string());
      }
    }
  }
}

void JobRunner::start() {
  sweep_orphans();
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { worker_loop(); });
  janitor_ = std::thread([this] { janitor_loop(); });
}

void JobRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopping_) {
      stopping_ = true;
      if (!started_) return;
    }
    stopping_ = true;
    for (auto& [id, r] : running_) {
      r->reason = StopReason::shutdown;
      r->cancel = true;
    }
  }
  wake_cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  if (janitor_.joinable()) janitor_.join();
  workers_.clear();
}

void JobRunner::wake() {
  {
    std::lock_guard lock(mutex_);
    ++submitted_;
  }
  wake_cv_.notify_all();  // all: the janitor waits on it too
}

bool JobRunner::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(id);
  if (it == running_.end()) return false;
  it->second->reason = StopReason::user;
  it->second->cancel = true;
  return true;
}

RunnerStats JobRunner::stats() {
  std::lock_guard lock(mutex_);
  RunnerStats s = totals_;
  s.running = int(running_.size());
  for (auto& [id, r] : running_) {
    s.frames_processed += r->frames;
    s.fps += r->fps;
  }
  return s;
}

std::string JobRunner::job_dir(const std::string& id) const {
  return (fs::path(options_.data_dir) / "jobs" / id).string();
}

void JobRunner::remove_files(const std::string& id) const {
  std::error_code ec;
  fs::remove_all(job_dir(id), ec);
}

void JobRunner::worker_loop() {
  auto log = log_for("serve");
  for (;;) {
    std::optional<Job> job;
    uint64_t submitted = 0;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      submitted = submitted_;
    }
    try {
      job = store_.claim_next();
    } catch (const std::exception& e) {
      log->error("taking a job: {}", e.what());
    }
    if (!job) {
      std::unique_lock lock(mutex_);
      // Woken by a submit; the timeout also picks up jobs queued by another process or recovery.
      wake_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || submitted_ != submitted; });
      continue;
    }
    auto running = std::make_shared<Running>();
    running->started = unix_now();
    {
      std::lock_guard lock(mutex_);
      running_[job->id] = running;
      if (stopping_) {
        running->reason = StopReason::shutdown;
        running->cancel = true;
      }
    }
    run(std::move(*job), *running);
  }
}

void JobRunner::run(Job job, Running& running) {
  auto log = log_for("serve");
  LogContext context("job " + job.id);  // on this job's lines from every stage
  const std::string dir = job_dir(job.id);
  const JobRequest& req = job.request;
  log->info("started ({}, attempt {}, source {})", req.type, job.attempts,
            req.source_uri.rfind("data:", 0) == 0 ? "data:..." : req.source_uri);
  double last_write = 0;
  try {
    JobHooks hooks;
    hooks.on_stage = [&](const std::string& stage) {
      job.stage = stage;
      store_.update_progress(job);
    };
    hooks.on_progress = [&](const Progress& p) {
      running.frames = p.frames_done;
      running.fps = p.fps;
      const double now = unix_now();
      if (now - last_write < 0.5 && !(p.frames_total > 0 && p.frames_done >= p.frames_total)) return;
      last_write = now;
      job.frames_done = p.frames_done;
      job.frames_total = p.frames_total;
      job.fps = p.fps;
      job.eta_seconds = p.eta_seconds;
      job.progress = p.frames_total > 0 ? std::min(0.99, double(p.frames_done) / double(p.frames_total)) : 0;
      store_.update_progress(job);
    };
    JobExecution done = execute_job(req, job.id, dir, storage_, job.source_path, &running.cancel, hooks);
    const RunReport& report = done.report;
    job.report = to_json(report);
    job.frames_done = report.frames;
    job.frames_total = report.frames;
    job.fps = report.fps;
    job.result_url = done.result_url;
    job.result_path = done.result_path;
    job.status = JobStatus::completed;
    job.progress = 1;
    job.eta_seconds = 0;
    job.stage = "done";
    store_.finish(job);
    log->info("completed, {} frames in {:.2f} s ({:.1f} fps)", report.frames, report.seconds, report.fps);
  } catch (const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    const StopReason reason = running.reason;
    if (reason == StopReason::shutdown) {
      store_.requeue(job.id);
      log->info("stopped by the server's shutdown, back in the queue");
    } else {
      if (reason == StopReason::user) {
        job.status = JobStatus::cancelled;
        job.error = "cancelled by the client";
        job.error_stage = job.stage;
      } else if (reason == StopReason::timeout) {
        job.status = JobStatus::failed;
        job.error = "timeout: the job ran longer than " + std::to_string(int(options_.job_timeout_s)) + " s";
        job.error_stage = "timeout";
      } else {
        job.status = JobStatus::failed;
        job.error = err ? err->line() : std::string("internal: ") + e.what();
        job.error_stage = err ? err->stage() : "internal";
      }
      job.stage = std::string(to_string(job.status));
      job.eta_seconds = -1;
      store_.finish(job);
      log->warn("{}: {}", to_string(job.status), job.error);
    }
  }
  std::lock_guard lock(mutex_);
  running_.erase(job.id);
  totals_.frames_processed += running.frames;
  if (running.reason == StopReason::shutdown) return;
  switch (job.status) {
    case JobStatus::completed: ++totals_.completed; break;
    case JobStatus::cancelled: ++totals_.cancelled; break;
    case JobStatus::failed:
      ++totals_.failed;
      ++totals_.failures_by_stage[job.error_stage];
      break;
    default: break;
  }
}

void JobRunner::janitor_loop() {
  auto log = log_for("serve");
  double last_cleanup = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
      if (stopping_) return;
      if (options_.job_timeout_s > 0) {
        const double now = unix_now();
        for (auto& [id, r] : running_)
          if (!r->cancel && now - r->started > options_.job_timeout_s) {
            r->reason = StopReason::timeout;
            r->cancel = true;
          }
      }
    }
    const double now = unix_now();
    if (now - last_cleanup < 60) continue;
    last_cleanup = now;
    sweep_orphans();
    try {
      for (const Job& old : store_.finished_before(now - options_.keep_hours * 3600)) {
        remove_files(old.id);
        store_.remove(old.id);
        log->info("job {}: deleted ({} h after it finished)", old.id, options_.keep_hours);
      }
    } catch (const std::exception& e) {
      log->error("cleanup: {}", e.what());
    }
  }
}

}  // namespace unmark::serve

// The durable job queue: one SQLite database in WAL mode. Every change is committed before the
// call returns, so a job survives a crash of the server; jobs that were processing when it died
// are found by recover() at the next start. Thread-safe (one connection behind a mutex: the
// service does a few hundred small statements a second at most).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "serve/job.h"

struct sqlite3;

namespace unmark::serve {

struct JobPage {
  std::vector<Job> jobs;
  int64_t total = 0;  // jobs matching the filter, all pages
};

class JobStore {
 public:
  // Opens or creates `path`. Throws Error{output} when the database cannot be opened.
  explicit JobStore(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Adds a queued job (id, request, created_at and source_path set by the caller).
  void insert(const Job& job);
  std::optional<Job> get(const std::string& id);
  // Newest first. `status` filters when set.
  JobPage list(std::optional<JobStatus> status, int limit, int offset);
  std::map<JobStatus, int64_t> count_by_status();

  // Takes the next queued job (highest priority, then oldest) and marks it processing, counting
  // an attempt. Empty when none is queued.
  std::optional<Job> claim_next();
  // Progress of a processing job (not its status).
  void update_progress(const Job& job);
  // Ends a job: completed, failed or cancelled, with its result, error and report as set in `job`.
  void finish(const Job& job);
  // Queued -> cancelled at once. Returns the status after the call (nullopt: no such job).
  std::optional<JobStatus> cancel_if_queued(const std::string& id, const std::string& reason);
  // Back to the queue (a graceful shutdown gave it up); the attempt is not counted.
  void requeue(const std::string& id);
  bool remove(const std::string& id);

  // At start-up: jobs left processing by a server that died go back to the queue while they have
  // attempts left, else fail with the reason. Returns how many of each.
  struct Recovery {
    int requeued = 0, failed = 0;
  };
  Recovery recover(int max_attempts);
  // Finished jobs older than `before` (Unix seconds), oldest first.
  std::vector<Job> finished_before(double before);

  // Blocks until some job changed or `timeout_ms` passed; returns the change counter, so a
  // watcher (server-sent events) wakes on updates without polling the database.
  uint64_t wait_change(uint64_t seen, int timeout_ms);
  uint64_t change_counter();

 private:
  void exec(const char* sql);
  void changed();  // caller holds mutex_

  std::mutex mutex_;
  std::condition_variable change_cv_;
  uint64_t changes_ = 0;
  sqlite3* db_ = nullptr;
};

}  // namespace unmark::serve

#include "serve/job_store.h"

#include <chrono>

#include <sqlite3.h>

#include "core/error.h"
#include "core/json_text.h"

namespace unmark::serve {

namespace {

using nlohmann::json;

// Columns in the order row_to_job reads them.
constexpr const char* kColumns =
    "id, request, status, progress, fps, eta_seconds, frames_done, frames_total, stage, error, error_stage, "
    "source_path, result_path, result_url, attempts, created_at, started_at, finished_at, updated_at, report";

[[noreturn]] void db_error(sqlite3* db, const std::string& what) {
  // A full disk is the operator's to fix, and says so (not a bug of ours).
  if (sqlite3_errcode(db) == SQLITE_FULL)
    throw Error("serve", ErrorKind::output, "the server's disk is full (job database: " + what + ")");
  throw Error("serve", ErrorKind::internal, "job database: " + what + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalized on scope exit; bind by 1-based index.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) db_error(db, "prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int v) { return bind(i, int64_t(v)); }
  // SQLITE_ROW -> true, SQLITE_DONE -> false.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_error(db_, "step");
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(stmt_, col))) : "";
  }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

Job row_to_job(const Statement& s) {
  Job j;
  j.id = s.text(0);
  j.request = job_request_from_json(parse_json(s.text(1), false));
  j.status = parse_job_status(s.text(2)).value_or(JobStatus::failed);
  j.progress = s.real(3);
  j.fps = s.real(4);
  j.eta_seconds = s.real(5);
  j.frames_done = s.integer(6);
  j.frames_total = s.integer(7);
  j.stage = s.text(8);
  j.error = s.text(9);
  j.error_stage = s.text(10);
  j.source_path = s.text(11);
  j.result_path = s.text(12);
  j.result_url = s.text(13);
  j.attempts = int(s.integer(14));
  j.created_at = s.real(15);
  j.started_at = s.real(16);
  j.finished_at = s.real(17);
  j.updated_at = s.real(18);
  j.report = parse_json(s.text(19), false);
  if (j.report.is_discarded()) j.report = json::object();
  return j;
}

std::string status_text(JobStatus s) { return std::string(to_string(s)); }

}  // namespace

JobStore::JobStore(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("serve", ErrorKind::output, "cannot open the job database '" + path + "': " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  // WAL: readers never block the writer; synchronous=NORMAL is durable across a process crash
  // (kill -9), which is what a job queue must survive; FULL would add an fsync per update.
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(
      "CREATE TABLE IF NOT EXISTS jobs ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " id TEXT NOT NULL UNIQUE,"
      " request TEXT NOT NULL,"
      " status TEXT NOT NULL,"
      " priority INTEGER NOT NULL,"
      " progress REAL NOT NULL DEFAULT 0, fps REAL NOT NULL DEFAULT 0, eta_seconds REAL NOT NULL DEFAULT -1,"
      " frames_done INTEGER NOT NULL DEFAULT 0, frames_total INTEGER NOT NULL DEFAULT 0,"
      " stage TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', error_stage TEXT NOT NULL DEFAULT '',"
      " source_path TEXT NOT NULL DEFAULT '', result_path TEXT NOT NULL DEFAULT '', result_url TEXT NOT NULL DEFAULT '',"
      " attempts INTEGER NOT NULL DEFAULT 0,"
      " created_at REAL NOT NULL, started_at REAL NOT NULL DEFAULT 0, finished_at REAL NOT NULL DEFAULT 0,"
      " updated_at REAL NOT NULL DEFAULT 0,"
      " report TEXT NOT NULL DEFAULT '{}')");
  exec("CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, priority DESC, seq)");
}

JobStore::~JobStore() { sqlite3_close(db_); }

void JobStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown";
    sqlite3_free(err);
    throw Error("serve", ErrorKind::internal, std::string("job database: ") + why);
  }
}

void JobStore::changed() {
  ++changes_;
  change_cv_.notify_all();
}

void JobStore::insert(const Job& job) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO jobs (id, request, status, priority, stage, source_path, created_at, updated_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, job.id)
      .bind(2, dump_json(to_json(job.request)))
      .bind(3, status_text(job.status))
      .bind(4, job.request.priority)
      .bind(5, std::string("queued"))
      .bind(6, job.source_path)
      .bind(7, job.created_at)
      .bind(8, job.created_at);
  s.step();
  changed();
}

std::optional<Job> JobStore::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return row_to_job(s);
}

JobPage JobStore::list(std::optional<JobStatus> status, int limit, int offset) {
  std::lock_guard lock(mutex_);
  JobPage page;
  const std::string where = status ? " WHERE status = ?" : "";
  {
    Statement s(db_, "SELECT COUNT(*) FROM jobs" + where);
    if (status) s.bind(1, status_text(*status));
    if (s.step()) page.total = s.integer(0);
  }
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM jobs" + where + " ORDER BY seq DESC LIMIT ? OFFSET ?");
  int i = 1;
  if (status) s.bind(i++, status_text(*status));
  s.bind(i, limit);
  s.bind(i + 1, offset);
  while (s.step()) page.jobs.push_back(row_to_job(s));
  return page;
}

std::map<JobStatus, int64_t> JobStore::count_by_status() {
  std::lock_guard lock(mutex_);
  std::map<JobStatus, int64_t> counts;
  for (JobStatus st : {JobStatus::queued, JobStatus::processing, JobStatus::completed, JobStatus::failed,
                       JobStatus::cancelled})
    counts[st] = 0;
  Statement s(db_, "SELECT status, COUNT(*) FROM jobs GROUP BY status");
  while (s.step())
    if (auto st = parse_job_status(s.text(0))) counts[*st] = s.integer(1);
  return counts;
}

std::optional<Job> JobStore::claim_next() {
  std::lock_guard lock(mutex_);
  const double now = unix_now();
  // One statement: the pick and the claim cannot be split by another worker.
  Statement s(db_, std::string("UPDATE jobs SET status = 'processing', stage = 'starting', attempts = attempts + 1,"
                               " started_at = ?, updated_at = ?, progress = 0, error = '', error_stage = ''"
                               " WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued'"
                               " ORDER BY priority DESC, seq ASC LIMIT 1) RETURNING ") +
                       kColumns);
  s.bind(1, now).bind(2, now);
  if (!s.step()) return std::nullopt;
  Job job = row_to_job(s);
  while (s.step()) {
  }
  changed();
  return job;
}

void JobStore::update_progress(const Job& job) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "UPDATE jobs SET progress = ?, fps = ?, eta_seconds = ?, frames_done = ?, frames_total = ?, stage = ?,"
              " updated_at = ? WHERE id = ? AND status = 'processing'");
  s.bind(1, job.progress)
      .bind(2, job.fps)
      .bind(3, job.eta_seconds)
      .bind(4, job.frames_done)
      .bind(5, job.frames_total)
      .bind(6, job.stage)
      .bind(7, unix_now())
      .bind(8, job.id);
  s.step();
  changed();
}

void JobStore::finish(const Job& job) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "UPDATE jobs SET status = ?, progress = ?, fps = ?, eta_seconds = ?, frames_done = ?, frames_total = ?,"
              " stage = ?, error = ?, error_stage = ?, result_path = ?, result_url = ?, finished_at = ?,"
              " updated_at = ?, report = ? WHERE id = ?");
  const double now = unix_now();
  s.bind(1, status_text(job.status))
      .bind(2, job.progress)
      .bind(3, job.fps)
      .bind(4, job.eta_seconds)
      .bind(5, job.frames_done)
      .bind(6, job.frames_total)
      .bind(7, job.stage)
      .bind(8, valid_utf8(job.error))
      .bind(9, job.error_stage)
      .bind(10, job.result_path)
      .bind(11, job.result_url)
      .bind(12, now)
      .bind(13, now)
      .bind(14, dump_json(job.report))
      .bind(15, job.id);
  s.step();
  changed();
}

std::optional<JobStatus> JobStore::cancel_if_queued(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mutex_);
  const double now = unix_now();
  {
    Statement s(db_,
                "UPDATE jobs SET status = 'cancelled', stage = 'cancelled', error = ?, finished_at = ?, updated_at = ?"
                " WHERE id = ? AND status = 'queued'");
    s.bind(1, reason).bind(2, now).bind(3, now).bind(4, id);
    s.step();
  }
  if (sqlite3_changes(db_) > 0) changed();
  Statement s(db_, "SELECT status FROM jobs WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return parse_job_status(s.text(0));
}

void JobStore::requeue(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "UPDATE jobs SET status = 'queued', stage = 'queued', attempts = MAX(attempts - 1, 0), progress = 0,"
              " updated_at = ? WHERE id = ? AND status = 'processing'");
  s.bind(1, unix_now()).bind(2, id);
  s.step();
  changed();
}

bool JobStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM jobs WHERE id = ?");
  s.bind(1, id);
  s.step();
  bool removed = sqlite3_changes(db_) > 0;
  if (removed) changed();
  return removed;
}

JobStore::Recovery JobStore::recover(int max_attempts) {
  std::lock_guard lock(mutex_);
  Recovery r;
  const double now = unix_now();
  {
    Statement s(db_,
                "UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0, updated_at = ?"
                " WHERE status = 'processing' AND attempts < ?");
    s.bind(1, now).bind(2, max_attempts);
    s.step();
    r.requeued = sqlite3_changes(db_);
  }
  {
    Statement s(db_,
                "UPDATE jobs SET status = 'failed', stage = 'failed', error_stage = 'serve',"
                " error = 'serve: the server stopped while this job was processing, ' || attempts ||"
                " ' times (the retry limit)', finished_at = ?, updated_at = ? WHERE status = 'processing'");
    s.bind(1, now).bind(2, now);
    s.step();
    r.failed = sqlite3_changes(db_);
  }
  if (r.requeued || r.failed) changed();
  return r;
}

std::vector<Job> JobStore::finished_before(double before) {
  std::lock_guard lock(mutex_);
  Statement s(db_, std::string("SELECT ") + kColumns +
                       " FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') AND finished_at > 0"
                       " AND finished_at < ? ORDER BY finished_at");
  s.bind(1, before);
  std::vector<Job> jobs;
  while (s.step()) jobs.push_back(row_to_job(s));
  return jobs;
}

uint64_t JobStore::wait_change(uint64_t seen, int timeout_ms) {
  std::unique_lock lock(mutex_);
  change_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return changes_ != seen; });
  return changes_;
}

uint64_t JobStore::change_counter() {
  std::lock_guard lock(mutex_);
  return changes_;
}

}  // namespace unmark::serve

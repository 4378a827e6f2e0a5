#include "worker/runpod_worker.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/json_text.h"
#include "core/log.h"
#include "serve/http_client.h"

namespace unmark::worker {

using nlohmann::json;
using serve::HttpCall;
using serve::HttpReply;
using Clock = std::chrono::steady_clock;

namespace {

// Set when the binary is loaded: the cold start counts from (about) exec, self-check included.
const Clock::time_point g_loaded = Clock::now();

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string with_query(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// Sleeps up to `seconds`, waking early when `stop` is set.
void nap(double seconds, const std::atomic<bool>& stop) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

class Worker {
 public:
  Worker(const WorkerOptions& options, const RunpodEndpoints& endpoints, const std::atomic<bool>& stop)
      : options_(options), urls_(endpoints), stop_(stop), handler_(options.handler) {}

  int run() {
    auto log = log_for("worker");
    const auto started = g_loaded;
    log->info("worker {}: ready, taking jobs from {}", urls_.worker_id, urls_.take.substr(0, urls_.take.find('?')));
    std::thread ping([this] { ping_loop(); });
    std::thread stopper;
    if (!urls_.stop.empty()) stopper = std::thread([this] { stop_loop(); });
    else log->warn("no stop channel (the take URL has no /job-take/): jobs cannot be cancelled remotely");
    bool first = true;
    double backoff = 1;
    while (!stop_) {
      // SIGTERM ends a long poll at once: an idle worker exits without waiting for the server.
      HttpReply r = request("GET", with_query(urls_.take, "job_in_progress=0"), "", long(options_.take_timeout_s), &stop_);
      if (stop_) break;
      if (!r.answered() || r.status >= 500) {
        log->warn("take: {} (retrying in {:.0f} s)", r.answered() ? "HTTP " + std::to_string(r.status) : r.error, backoff);
        nap(backoff, stop_);
        backoff = std::min(backoff * 2, 30.0);
        continue;
      }
      backoff = 1;
      if (r.status == 429) {
        log->info("take: 429, waiting 5 s");
        nap(5, stop_);
        continue;
      }
      if (r.status == 204 || r.status == 400) {  // no job (400: FlashBoot's answer when idle)
        nap(0.2, stop_);
        continue;
      }
      json job = parse_json(r.body, false);
      if (r.status != 200 || !job.is_object() || !job.contains("id") || !job["id"].is_string() ||
          !job.contains("input")) {
        log->error("take: HTTP {} without a job (id and input): {}", r.status, r.body.substr(0, 200));
        nap(1, stop_);
        continue;
      }
      if (first) {
        log->info("first job taken {:.0f} ms after the binary loaded (self-check included)",
                  std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        first = false;
      }
      run_job(job["id"].get<std::string>(), job["input"]);
    }
    log->info("stopping: no new jobs taken");
    quit_ = true;
    ping.join();
    if (stopper.joinable()) stopper.join();
    return 0;
  }

 private:
  HttpReply request(const std::string& method, const std::string& url, const std::string& body, long timeout_s,
                    const std::atomic<bool>* abort = nullptr) const {
    HttpCall call;
    call.method = method;
    call.url = url;
    call.body = body;
    call.timeout_s = timeout_s;
    if (!urls_.api_key.empty()) call.headers.push_back("Authorization: " + urls_.api_key);
    if (method == "POST") {
      // As runpod-python sends them: JSON text under a form content type.
      call.headers.push_back("charset: utf-8");
      call.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    }
    return serve::http_call(call, abort ? abort : &quit_);
  }

  std::string done_url(const std::string& id) const { return replace_all(urls_.done, "$ID", id); }

  // The job's result, retried on 5xx and dropped connections.
  void post_result(const std::string& id, const json& body) {
    auto log = log_for("worker");
    const std::string text = dump_json(body);
    static const std::atomic<bool> never{false};
    for (int attempt = 1; attempt <= 5; ++attempt) {
      HttpReply r = request("POST", done_url(id), text, 30, &never);
      if (r.answered() && r.status < 500) {
        if (r.status >= 400) log->error("result of {}: HTTP {}: {}", id, r.status, r.body.substr(0, 200));
        return;
      }
      log->warn("result of {}: {} (attempt {})", id, r.answered() ? "HTTP " + std::to_string(r.status) : r.error, attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
    }
    log->error("result of {}: not delivered after 5 attempts", id);
  }

  void run_job(const std::string& id, const json& input) {
    auto log = log_for("worker");
    LogContext context("job " + id);
    log->info("started");
    std::atomic<bool> cancel{false};
    std::atomic<bool> finished{false};
    {
      std::lock_guard lock(mutex_);
      current_ = id;
      cancel_ = &cancel;
    }
    // Progress: the pipeline's callback only records; this thread posts, so a slow post never
    // holds up the encoder.
    std::mutex progress_mutex;
    std::optional<Progress> latest;
    std::thread reporter([&] {
      LogContext c("job " + id);
      double sent_at = -1e9;
      while (!finished) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
        if (now - sent_at < options_.progress_interval_s) continue;
        std::optional<Progress> p;
        {
          std::lock_guard lock(progress_mutex);
          p.swap(latest);
        }
        if (!p) continue;
        sent_at = now;
        json body = {{"status", "IN_PROGRESS"},
                     {"output",
                      {{"status", "processing"},
                       {"progress", p->frames_total > 0 ? double(p->frames_done) / double(p->frames_total) : 0.0},
                       {"frames_done", p->frames_done},
                       {"frames_total", p->frames_total},
                       {"fps", p->fps},
                       {"eta_seconds", p->eta_seconds}}}};
        HttpReply r = request("POST", done_url(id), dump_json(body), 10);
        if (!r.answered() || r.status >= 400)
          log->debug("progress post: {}", r.answered() ? "HTTP " + std::to_string(r.status) : r.error);
      }
    });
    std::optional<JobOutcome> outcome;
    std::thread job_thread([&] {
      LogContext c("job " + id);
      outcome = handler_.run(
          id, input,
          [&](const Progress& p) {
            std::lock_guard lock(progress_mutex);
            latest = p;
          },
          &cancel);
      finished = true;
    });
    // SIGTERM mid-job: the job may finish within the grace period; after it, it is stopped.
    std::optional<Clock::time_point> deadline;
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (stop_ && !deadline) {
        deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.grace_s));
        log->info("shutting down: the job may finish within {:.1f} s", options_.grace_s);
      }
      if (deadline && Clock::now() > *deadline && !cancel) {
        log->warn("grace period over: stopping the job");
        shutdown_cancel_ = true;
        cancel = true;
      }
    }
    job_thread.join();
    reporter.join();
    {
      std::lock_guard lock(mutex_);
      current_.clear();
      cancel_ = nullptr;
    }
    JobOutcome& o = *outcome;
    if (o.cancelled && shutdown_cancel_) {
      o.error = "cancelled: the worker shut down before the job finished";
      o.output["error"] = o.error;
    }
    json body = {{"output", o.output}};
    if (!o.error.empty()) body["error"] = o.error;  // RunPod marks the job FAILED only with this
    post_result(id, body);
    log->info("{}", o.error.empty() ? "result posted" : "failure posted: " + o.error);
  }

  void ping_loop() {
    auto log = log_for("worker");
    if (urls_.ping.empty()) {
      log->warn("RUNPOD_WEBHOOK_PING is not set: no heartbeats");
      return;
    }
    const std::string version = "unmark-" UNMARK_VERSION;
    while (!quit_) {
      std::string ids;
      {
        std::lock_guard lock(mutex_);
        ids = current_;
      }
      std::string url = with_query(urls_.ping, "job_id=" + ids);
      url = with_query(url, "runpod_version=" + version);
      HttpReply r = request("GET", url, "", std::max(1L, long(urls_.ping_interval_ms * 2 / 1000)));
      if (!r.answered() && r.error != "aborted") log->debug("ping: {}", r.error);
      nap(urls_.ping_interval_ms / 1000.0, quit_);
    }
  }

  void stop_loop() {
    auto log = log_for("worker");
    double backoff = 1;
    while (!quit_) {
      HttpReply r = request("GET", urls_.stop, "", long(options_.take_timeout_s));
      if (quit_) break;
      if (!r.answered() || r.status >= 500 || r.status == 429) {
        nap(backoff, quit_);
        backoff = std::min(backoff * 2, 30.0);
        continue;
      }
      backoff = 1;
      json body = parse_json(r.body, false);
      if (r.status == 200 && body.is_object() && body.contains("jobsToStop") && body["jobsToStop"].is_array()) {
        std::lock_guard lock(mutex_);
        for (const json& id : body["jobsToStop"])
          if (id.is_string() && id.get<std::string>() == current_ && cancel_) {
            log->info("job {}: stop requested", current_);
            *cancel_ = true;
          }
      } else {
        nap(0.2, quit_);  // 204: nothing to stop; the server holds the next poll
      }
    }
  }

  const WorkerOptions& options_;
  const RunpodEndpoints& urls_;
  const std::atomic<bool>& stop_;
  JobHandler handler_;
  mutable std::atomic<bool> quit_{false};  // ends the ping and stop threads and aborts their polls
  std::atomic<bool> shutdown_cancel_{false};
  std::mutex mutex_;
  std::string current_;                 // the job in hand ("" when idle)
  std::atomic<bool>* cancel_ = nullptr; // its cancel flag
};

}  // namespace

RunpodEndpoints RunpodEndpoints::from_environment() {
  RunpodEndpoints e;
  e.worker_id = env("RUNPOD_POD_ID");
  e.api_key = env("RUNPOD_AI_API_KEY");
  const std::string take = env("RUNPOD_WEBHOOK_GET_JOB");
  const std::string done = env("RUNPOD_WEBHOOK_POST_OUTPUT");
  if (take.empty() || done.empty())
    throw Error("worker", ErrorKind::usage,
                "RUNPOD_WEBHOOK_GET_JOB and RUNPOD_WEBHOOK_POST_OUTPUT are not set: this is not a RunPod worker "
                "(for a local API use `unmark worker --serve-api --port N`)");
  if (e.worker_id.empty()) e.worker_id = "local-worker";
  e.take = replace_all(take, "$ID", e.worker_id);
  e.done = replace_all(done, "$RUNPOD_POD_ID", e.worker_id);
  e.stream = replace_all(env("RUNPOD_WEBHOOK_POST_STREAM"), "$RUNPOD_POD_ID", e.worker_id);
  e.ping = replace_all(env("RUNPOD_WEBHOOK_PING"), "$RUNPOD_POD_ID", e.worker_id);
  if (e.take.find("/job-take/") != std::string::npos) e.stop = replace_all(e.take, "/job-take/", "/job-stop/");
  if (std::string ms = env("RUNPOD_PING_INTERVAL"); !ms.empty()) {
    char* end = nullptr;
    long v = std::strtol(ms.c_str(), &end, 10);
    if (*end || v < 100) throw Error("worker", ErrorKind::usage, "RUNPOD_PING_INTERVAL must be milliseconds (100 or more)");
    e.ping_interval_ms = int(v);
  }
  return e;
}

int run_runpod_worker(const WorkerOptions& options, const RunpodEndpoints& endpoints, const std::atomic<bool>& stop) {
  return Worker(options, endpoints, stop).run();
}

}  // namespace unmark::worker

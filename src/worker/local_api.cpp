#include "worker/local_api.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"
#include "core/log.h"
#include "serve/http_server.h"
#include "serve/job.h"

namespace unmark::worker {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct LocalJob {
  std::string id;
  json input;
  std::string status = "IN_QUEUE";  // IN_QUEUE | IN_PROGRESS | COMPLETED | FAILED | CANCELLED
  json output;
  std::string error;
  std::vector<json> stream;  // progress outputs not yet read by /stream
  Clock::time_point queued = Clock::now(), started{}, finished{};
  std::atomic<bool> cancel{false};
  bool done() const { return status == "COMPLETED" || status == "FAILED" || status == "CANCELLED"; }
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void reply(serve::HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.content_type = "application/json";
  res.body = dump_json(body);
}

class LocalApi {
 public:
  explicit LocalApi(const LocalApiOptions& options)
      : options_(options), handler_(options.handler), http_(serve::HttpServer::Options{}) {}

  int run(const std::atomic<bool>& stop) {
    add_routes();
    int port = http_.bind(options_.host, options_.port);
    if (port < 0)
      throw Error("worker", ErrorKind::usage,
                  "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + " (in use?)");
    if (!options_.port_file.empty()) std::ofstream(options_.port_file) << port << "\n";
    log_for("worker")->info("local API on http://{}:{} (RunPod endpoint shapes: /run, /runsync, /status/ID, ...)",
                            options_.host, port);
    for (int i = 0; i < std::max(1, options_.concurrency); ++i) workers_.emplace_back([this] { work(); });
    std::thread http_thread([this] { http_.run(); });
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    {
      std::lock_guard lock(mutex_);
      quitting_ = true;
      for (auto& [id, job] : jobs_)
        if (job->status == "IN_PROGRESS") job->cancel = true;
    }
    changed_.notify_all();
    for (std::thread& t : workers_) t.join();
    http_.stop();
    http_thread.join();
    return 0;
  }

 private:
  json body_of(const LocalJob& job) const {
    json j = {{"id", job.id}, {"status", job.status}};
    if (job.started != Clock::time_point{}) j["delayTime"] = int64_t(ms_between(job.queued, job.started));
    if (job.finished != Clock::time_point{}) j["executionTime"] = int64_t(ms_between(job.started, job.finished));
    if (!job.output.is_null()) j["output"] = job.output;
    if (!job.error.empty()) j["error"] = job.error;
    return j;
  }

  std::shared_ptr<LocalJob> find(const std::string& id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) throw serve::ApiError(404, "job_not_found", "no job " + id);
    return it->second;
  }

  std::shared_ptr<LocalJob> enqueue(const serve::HttpRequest& req) {
    json body = parse_json(req.body, false);
    if (body.is_discarded() || !body.is_object())
      throw serve::ApiError(400, "invalid_body", "the body must be a JSON object {\"input\": {...}}");
    if (!body.contains("input") || body["input"].is_null())
      throw serve::ApiError(400, "missing_input", "the body has no 'input'");
    if (!body["input"].is_object()) throw serve::ApiError(400, "invalid_input", "'input' must be an object");
    auto job = std::make_shared<LocalJob>();
    job->id = body.contains("id") && body["id"].is_string() ? body["id"].get<std::string>() : serve::new_job_id();
    // The id is part of every later URL (/status/ID): only what such a path can hold.
    if (job->id.empty() || job->id.size() > 128 ||
        job->id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string::npos)
      throw serve::ApiError(422, "invalid_id", "a job id is 1 to 128 letters, digits, '_', '.' or '-'");
    job->input = body["input"];
    {
      std::lock_guard lock(mutex_);
      evict_finished();
      if (jobs_.count(job->id)) throw serve::ApiError(409, "duplicate_id", "a job with id " + job->id + " exists");
      jobs_[job->id] = job;
      queue_.push_back(job);
    }
    changed_.notify_all();
    return job;
  }

  void work() {
    for (;;) {
      std::shared_ptr<LocalJob> job;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return quitting_ || !queue_.empty(); });
        if (quitting_) return;
        job = queue_.front();
        queue_.pop_front();
        job->status = "IN_PROGRESS";
        job->started = Clock::now();
        ++running_;
      }
      LogContext context("job " + job->id);
      JobOutcome o = handler_.run(
          job->id, job->input,
          [&](const Progress& p) {
            std::lock_guard lock(mutex_);
            job->stream.push_back({{"output",
                                    {{"status", "processing"},
                                     {"frames_done", p.frames_done},
                                     {"frames_total", p.frames_total},
                                     {"fps", p.fps}}}});
            if (job->stream.size() > 200) job->stream.erase(job->stream.begin());
          },
          &job->cancel);
      {
        std::lock_guard lock(mutex_);
        --running_;
        job->finished = Clock::now();
        job->input = json();  // not needed again (a base64 source can be megabytes)
        job->output = o.output;
        job->error = o.error;
        job->status = o.error.empty() ? "COMPLETED" : job->cancel ? "CANCELLED" : "FAILED";
        ++(o.error.empty() ? completed_ : failed_);
      }
      changed_.notify_all();
    }
  }

  void add_routes() {
    // RunPod's clients call {base}/{endpoint_id}/run (the hosted API's base ends in /v2); plain
    // /run works too.
    const std::string prefix = "(?:/v2)?(?:/[A-Za-z0-9_.-]+)?";
    // RunPod takes inputs (a base64 video among them) up to 10 MB on /run, 20 MB on /runsync.
    http_.set_body_limit(prefix + "/run", kMaxRunBody);
    http_.set_body_limit(prefix + "/runsync", kMaxRunsyncBody);
    const std::string id = "([A-Za-z0-9_.-]+)";
    http_.route("POST", prefix + "/run", [this](const serve::HttpRequest& req, serve::HttpResponse& res) {
      auto job = enqueue(req);
      reply(res, 200, {{"id", job->id}, {"status", "IN_QUEUE"}});
    });
    http_.route("POST", prefix + "/runsync", [this](const serve::HttpRequest& req, serve::HttpResponse& res) {
      auto job = enqueue(req);
      int wait_ms = 90000;
      if (std::string w = req.query_value("wait"); !w.empty()) wait_ms = std::clamp(std::atoi(w.c_str()), 1000, 300000);
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return job->done() || quitting_; });
      reply(res, 200, body_of(*job));
    });
    auto status = [this](const serve::HttpRequest& req, serve::HttpResponse& res) {
      std::lock_guard lock(mutex_);
      reply(res, 200, body_of(*find(req.matches.at(1))));
    };
    http_.route("GET", prefix + "/status/" + id, status);  // RunPod's clients use either method
    http_.route("POST", prefix + "/status/" + id, status);
    http_.route("GET", prefix + "/stream/" + id, [this](const serve::HttpRequest& req, serve::HttpResponse& res) {
      std::lock_guard lock(mutex_);
      auto job = find(req.matches.at(1));
      json stream = json::array();
      for (json& item : job->stream) stream.push_back(std::move(item));
      job->stream.clear();
      if (job->done()) stream.push_back({{"output", job->output}});
      reply(res, 200, {{"id", job->id}, {"status", job->status}, {"stream", stream}});
    });
    // A running job is told to stop and the answer waits (up to kCancelWait) for it to end: the
    // status given is what happened, CANCELLED when the cancel won, COMPLETED when the job had
    // already finished its work, IN_PROGRESS (with cancel_requested) when it has not stopped yet.
    http_.route("POST", prefix + "/cancel/" + id, [this](const serve::HttpRequest& req, serve::HttpResponse& res) {
      std::unique_lock lock(mutex_);
      auto job = find(req.matches.at(1));
      if (job->status == "IN_PROGRESS") {
        job->cancel = true;
        changed_.wait_for(lock, kCancelWait, [&] { return job->done() || quitting_; });
        json body = {{"id", job->id}, {"status", job->status}};
        if (!job->done()) body["cancel_requested"] = true;
        reply(res, 200, body);
        return;
      }
      if (job->status == "IN_QUEUE") {
        std::erase(queue_, job);
        job->status = "CANCELLED";
        job->finished = Clock::now();
      }
      reply(res, 200, {{"id", job->id}, {"status", job->status}});
    });
    http_.route("POST", prefix + "/purge-queue", [this](const serve::HttpRequest&, serve::HttpResponse& res) {
      std::lock_guard lock(mutex_);
      const size_t removed = queue_.size();
      for (auto& job : queue_) {
        job->status = "CANCELLED";
        job->finished = Clock::now();
      }
      queue_.clear();
      reply(res, 200, {{"removed", removed}, {"status", "completed"}});
    });
    http_.route("GET", prefix + "/health", [this](const serve::HttpRequest&, serve::HttpResponse& res) {
      std::lock_guard lock(mutex_);
      const int workers = std::max(1, options_.concurrency);
      reply(res, 200,
            {{"jobs",
              {{"completed", completed_},
               {"failed", failed_},
               {"inProgress", running_},
               {"inQueue", queue_.size()},
               {"retried", 0}}},
             {"workers", {{"idle", workers - running_}, {"running", running_}}}});
    });
    http_.set_exception_mapper([](std::exception_ptr e, serve::HttpResponse& res) {
      try {
        std::rethrow_exception(e);
      } catch (const serve::ApiError& a) {
        reply(res, a.status(), {{"error", a.what()}, {"code", a.code()}});
      } catch (const std::exception& x) {
        reply(res, 500, {{"error", std::string("internal: ") + x.what()}});
      }
    });
    http_.set_status_responder([](int status, serve::HttpResponse& res) {
      const std::string why = status == 404   ? "no such route"
                              : status == 413 ? "the request body is too large (/run takes up to " +
                                                    std::to_string(kMaxRunBody >> 20) + " MiB, /runsync up to " +
                                                    std::to_string(kMaxRunsyncBody >> 20) + " MiB, other routes 1 MiB)"
                                              : "HTTP " + std::to_string(status);
      reply(res, status, {{"error", why}});
    });
  }

  // Finished jobs are kept for their clients to read for kFinishedTtl (RunPod keeps /run results
  // 30 minutes), and no more than kMaxFinished of them.
  void evict_finished() {
    const auto now = Clock::now();
    std::vector<std::pair<Clock::time_point, std::string>> finished;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second->done() && now - it->second->finished > kFinishedTtl) {
        it = jobs_.erase(it);
        continue;
      }
      if (it->second->done()) finished.emplace_back(it->second->finished, it->first);
      ++it;
    }
    if (finished.size() <= kMaxFinished) return;
    std::sort(finished.begin(), finished.end());
    for (size_t i = 0; i + kMaxFinished < finished.size(); ++i) jobs_.erase(finished[i].second);
  }

  static constexpr size_t kMaxRunBody = size_t(10) << 20;
  static constexpr size_t kMaxRunsyncBody = size_t(20) << 20;
  static constexpr auto kFinishedTtl = std::chrono::minutes(30);
  static constexpr size_t kMaxFinished = 1000;
  static constexpr auto kCancelWait = std::chrono::seconds(20);

  const LocalApiOptions& options_;
  JobHandler handler_;
  serve::HttpServer http_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<LocalJob>> jobs_;
  std::deque<std::shared_ptr<LocalJob>> queue_;
  std::vector<std::thread> workers_;
  bool quitting_ = false;
  int running_ = 0;
  int64_t completed_ = 0, failed_ = 0;
};

}  // namespace

int run_local_api(const LocalApiOptions& options, const std::atomic<bool>& stop) {
  return LocalApi(options).run(stop);
}

}  // namespace unmark::worker

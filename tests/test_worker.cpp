// `unmark worker` end to end: the real binary against a fake RunPod job server written from the
// protocol (take, done, ping, stop), and its local API in a hosted endpoint's shapes.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "serve/storage.h"
#include "support/media.h"
#include "support/moto.h"
#include "support/process.h"
#include "support/server_process.h"

using namespace unmark::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

const char* kRegion = "18,18,64,28";

double since(Clock::time_point t0, Clock::time_point t) { return std::chrono::duration<double>(t - t0).count(); }

// A RunPod job server as the worker sees it, with scripted misbehaviour.
class FakeRunpod {
 public:
  FakeRunpod() {
    server_.Get(R"(/v2/job-take/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      check_auth(req);
      std::string action;
      {
        std::lock_guard lock(mutex_);
        takes_.push_back(Clock::now());
        if (!req.has_param("job_in_progress")) ++missing_flag_;
        if (!script_.empty()) {
          action = script_.front();
          script_.pop_front();
        } else if (!jobs_.empty()) {
          action = "job";
        }
      }
      if (action == "429" || action == "500") {
        res.status = std::stoi(action);
        return;
      }
      if (action == "drop") {  // headers, then the connection closes mid-body
        res.set_content_provider(100, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
          sink.write("{\"id\":", 6);
          return false;
        });
        return;
      }
      if (action == "job") {
        std::lock_guard lock(mutex_);
        json job = jobs_.front();
        jobs_.pop_front();
        res.set_content(job.dump(), "application/json");
        return;
      }
      // A long poll: held until a job comes or the hold ends.
      for (int waited = 0; waited < hold_ms_; waited += 20) {
        {
          std::lock_guard lock(mutex_);
          if (!jobs_.empty() || stopping_) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      res.status = 204;
    });
    server_.Get(R"(/v2/job-stop/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      check_auth(req);
      for (int i = 0; i < 10; ++i) {
        {
          std::lock_guard lock(mutex_);
          if (!to_stop_.empty()) {
            res.set_content(json{{"jobsToStop", to_stop_}}.dump(), "application/json");
            to_stop_.clear();
            return;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      res.status = 204;
    });
    server_.Post(R"(/v2/job-done/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      check_auth(req);
      json body = json::parse(req.body, nullptr, false);
      std::lock_guard lock(mutex_);
      const std::string id = req.matches[2];
      if (body.value("status", "") == "IN_PROGRESS") progress_[id].push_back(body);
      else results_[id].push_back({Clock::now(), body});
      res.set_content("{}", "application/json");
    });
    server_.Get(R"(/v2/ping/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      check_auth(req);
      std::lock_guard lock(mutex_);
      pings_.push_back({Clock::now(), req.get_param_value("job_id")});
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeRunpod() {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

  std::vector<std::pair<std::string, std::string>> env(int ping_ms = 300) const {
    const std::string base = "http://127.0.0.1:" + std::to_string(port_) + "/v2";
    return {{"RUNPOD_WEBHOOK_GET_JOB", base + "/job-take/$ID?gpu=test"},
            {"RUNPOD_WEBHOOK_POST_OUTPUT", base + "/job-done/$RUNPOD_POD_ID/$ID?gpu=test"},
            {"RUNPOD_WEBHOOK_POST_STREAM", base + "/job-stream/$RUNPOD_POD_ID/$ID?gpu=test"},
            {"RUNPOD_WEBHOOK_PING", base + "/ping/$RUNPOD_POD_ID?gpu=test"},
            {"RUNPOD_PING_INTERVAL", std::to_string(ping_ms)},
            {"RUNPOD_AI_API_KEY", "test-key"},
            {"RUNPOD_POD_ID", "pod-1"}};
  }

  void add_job(const std::string& id, const json& input) {
    std::lock_guard lock(mutex_);
    jobs_.push_back({{"id", id}, {"input", input}});
  }
  void script(std::deque<std::string> answers) {
    std::lock_guard lock(mutex_);
    script_ = std::move(answers);
  }
  void hold_takes(int ms) { hold_ms_ = ms; }
  void stop_job(const std::string& id) {
    std::lock_guard lock(mutex_);
    to_stop_.push_back(id);
  }

  // Waits for the final result of `id`.
  json result(const std::string& id, double seconds = 120) {
    for (auto until = Clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000)); Clock::now() < until;) {
      {
        std::lock_guard lock(mutex_);
        if (!results_[id].empty()) return results_[id].front().second;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return json();
  }
  Clock::time_point result_time(const std::string& id) {
    std::lock_guard lock(mutex_);
    return results_[id].empty() ? Clock::time_point{} : results_[id].front().first;
  }
  size_t result_count(const std::string& id) {
    std::lock_guard lock(mutex_);
    return results_[id].size();
  }
  size_t progress_posts(const std::string& id) {
    std::lock_guard lock(mutex_);
    return progress_[id].size();
  }
  bool wait_progress(const std::string& id, double seconds) {
    for (auto until = Clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000)); Clock::now() < until;) {
      if (progress_posts(id) > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::vector<Clock::time_point> takes() {
    std::lock_guard lock(mutex_);
    return takes_;
  }
  std::vector<std::pair<Clock::time_point, std::string>> pings() {
    std::lock_guard lock(mutex_);
    return pings_;
  }
  int bad_auth() const { return bad_auth_; }
  int missing_flag() const { return missing_flag_; }

 private:
  void check_auth(const httplib::Request& req) {
    if (req.get_header_value("Authorization") != "test-key") ++bad_auth_;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::deque<json> jobs_;
  std::deque<std::string> script_;
  std::vector<std::string> to_stop_;
  std::map<std::string, std::vector<std::pair<Clock::time_point, json>>> results_;
  std::map<std::string, std::vector<json>> progress_;
  std::vector<Clock::time_point> takes_;
  std::vector<std::pair<Clock::time_point, std::string>> pings_;
  std::atomic<int> bad_auth_{0}, missing_flag_{0};
  std::atomic<int> hold_ms_{300};
  std::atomic<bool> stopping_{false};
};

std::vector<std::string> worker_args(const std::string& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {UNMARK_BINARY, "worker", "--data", dir + "/data", "--allow-dir", dir,
                                   "--progress-interval", "0.2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST(Worker, TakesJobsThroughServerTroubleAndSurvivesBadOnes) {
  std::string dir = temp_dir("worker_jobs");
  write_media(dir + "/in.mp4", marked_clip(240));
  std::ofstream(dir + "/notes.txt") << "not a video at all";
  FakeRunpod rp;
  rp.script({"429", "500", "drop"});
  rp.add_job("bad-base64", {{"source_base64", base64_encode("this is not a video")}});
  rp.add_job("missing", {{"source", dir + "/missing.mp4"}});
  rp.add_job("wrong-type", {{"source", 5}});
  rp.add_job("escape", {{"source", "/etc/passwd"}});
  rp.add_job("good", {{"source", dir + "/in.mp4"}, {"regions", {kRegion}}, {"output_filename", "clean.mp4"},
                      {"some_old_field", true}});
  const auto start = Clock::now();
  ChildProcess worker(worker_args(dir), rp.env(300), dir + "/worker.log");

  for (const char* id : {"bad-base64", "missing", "wrong-type", "escape"}) {
    json r = rp.result(id);
    ASSERT_TRUE(r.is_object()) << id << "\n" << worker.log();
    EXPECT_TRUE(r.contains("error") && r["error"].is_string()) << id << ": " << r.dump();
    EXPECT_EQ(r["output"]["status"], "error") << id;
    EXPECT_EQ(r["output"]["error"], r["error"]) << id;
  }
  EXPECT_NE(rp.result("bad-base64")["error"].get<std::string>().find("not a video"), std::string::npos)
      << rp.result("bad-base64").dump();
  EXPECT_NE(rp.result("wrong-type")["error"].get<std::string>().find("'source' must be a string"), std::string::npos);
  EXPECT_NE(rp.result("escape")["error"].get<std::string>().find("outside the directories"), std::string::npos);

  json good = rp.result("good");
  ASSERT_EQ(good["output"]["status"], "success") << good.dump() << "\n" << worker.log();
  EXPECT_FALSE(good.contains("error"));
  EXPECT_EQ(good["output"]["result"]["filename"], "clean.mp4");
  const std::string path = good["output"]["result"]["result_url"];
  EXPECT_EQ(decode_video(path).size(), 240u);
  EXPECT_EQ(good["output"]["stats"]["frames"], 240);
  EXPECT_EQ(good["output"]["stats"]["path"], "cpu");
  EXPECT_NE(good["output"]["warnings"].dump().find("some_old_field"), std::string::npos);
  EXPECT_GE(rp.progress_posts("good"), 1u) << "no IN_PROGRESS posts";
  for (const char* id : {"bad-base64", "missing", "good"}) EXPECT_EQ(rp.result_count(id), 1u) << id;

  // 429: about 5 s before the next take; 500 and the dropped answer: a short backoff, no spinning.
  auto takes = rp.takes();
  ASSERT_GE(takes.size(), 4u);
  EXPECT_GE(since(takes[0], takes[1]), 4.5);
  EXPECT_GE(since(takes[1], takes[2]), 0.5);
  EXPECT_GE(since(takes[2], takes[3]), 0.5);
  EXPECT_LT(since(start, takes[3]), 20.0);

  // Heartbeats on their own thread, RUNPOD_PING_INTERVAL apart, naming the job while it runs.
  auto pings = rp.pings();
  ASSERT_GE(pings.size(), 5u);
  std::vector<double> gaps;
  for (size_t i = 1; i < pings.size(); ++i) gaps.push_back(since(pings[i - 1].first, pings[i].first));
  std::sort(gaps.begin(), gaps.end());
  EXPECT_NEAR(gaps[gaps.size() / 2], 0.3, 0.1);
  EXPECT_LT(gaps.back(), 1.0) << "a heartbeat waited on something";
  EXPECT_TRUE(std::any_of(pings.begin(), pings.end(), [](auto& p) { return p.second == "good"; }));
  EXPECT_EQ(rp.bad_auth(), 0) << "a request went without RUNPOD_AI_API_KEY";
  EXPECT_EQ(rp.missing_flag(), 0);
  EXPECT_NE(worker.log().find("first job taken"), std::string::npos);
}

TEST(Worker, StopsAJobOnRequestAndFinishesOnSigterm) {
  std::string dir = temp_dir("worker_stop");
  write_media(dir + "/long.mp4", marked_clip(3000));
  FakeRunpod rp;
  rp.add_job("to-stop", {{"source", dir + "/long.mp4"}, {"regions", {kRegion}}});
  ChildProcess worker(worker_args(dir, {"--grace", "0.5"}), rp.env(300), dir + "/worker.log");

  ASSERT_TRUE(rp.wait_progress("to-stop", 60)) << worker.log();
  const auto asked = Clock::now();
  rp.stop_job("to-stop");
  json stopped = rp.result("to-stop", 30);
  ASSERT_TRUE(stopped.is_object()) << worker.log();
  EXPECT_LT(since(asked, rp.result_time("to-stop")), 2.0) << "the stop took too long";
  EXPECT_NE(stopped["error"].get<std::string>().find("cancelled"), std::string::npos) << stopped.dump();
  EXPECT_TRUE(fs::is_empty(dir + "/data/jobs")) << "the stopped job left files";

  // The worker goes on to the next job; SIGTERM mid-job: it is stopped after the grace period,
  // reported, and the worker exits 0.
  rp.add_job("at-shutdown", {{"source", dir + "/long.mp4"}, {"regions", {kRegion}}});
  ASSERT_TRUE(rp.wait_progress("at-shutdown", 60)) << worker.log();
  const auto term = Clock::now();
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(15), 0) << worker.log();
  EXPECT_LT(since(term, Clock::now()), 6.0);
  json last = rp.result("at-shutdown", 1);
  ASSERT_TRUE(last.is_object()) << "the job in hand was not reported\n" << worker.log();
  EXPECT_NE(last["error"].get<std::string>().find("shut down"), std::string::npos) << last.dump();
}

TEST(Worker, AnIdleWorkerExitsOnSigtermWithoutWaitingForTheLongPoll) {
  std::string dir = temp_dir("worker_idle");
  FakeRunpod rp;
  rp.hold_takes(60000);  // the server holds every take for a minute
  ChildProcess worker(worker_args(dir), rp.env(300), dir + "/worker.log");
  for (int i = 0; i < 100 && rp.takes().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(rp.takes().empty()) << worker.log();
  const auto term = Clock::now();
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(10), 0) << worker.log();
  EXPECT_LT(since(term, Clock::now()), 2.0) << "the worker waited for the held take";
}

TEST(Worker, LocalApiSpeaksTheHostedEndpointsShapes) {
  std::string dir = temp_dir("worker_api");
  write_media(dir + "/in.mp4", marked_clip(24));
  write_media(dir + "/long.mp4", marked_clip(3000));
  ChildProcess worker(worker_args(dir, {"--serve-api", "--port", "0", "--port-file", dir + "/port"}), {},
                      dir + "/worker.log");
  for (int i = 0; i < 100 && !fs::exists(dir + "/port"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir + "/port")) << worker.log();
  httplib::Client c("127.0.0.1", std::stoi(slurp(dir + "/port")));
  c.set_read_timeout(120, 0);
  auto post = [&](const std::string& path, const json& body) {
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, json::parse(r->body, nullptr, false)) : std::make_pair(0, json());
  };
  auto get = [&](const std::string& path) {
    auto r = c.Get(path.c_str());
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, json::parse(r->body, nullptr, false)) : std::make_pair(0, json());
  };

  // /runsync under an endpoint id, as RunPod's clients call it.
  auto [s1, sync] = post("/abc123/runsync", {{"input", {{"source", dir + "/in.mp4"}, {"regions", {kRegion}}}}});
  EXPECT_EQ(s1, 200);
  EXPECT_EQ(sync["status"], "COMPLETED") << sync.dump();
  EXPECT_EQ(sync["output"]["status"], "success");
  EXPECT_TRUE(sync.contains("delayTime") && sync.contains("executionTime"));
  EXPECT_EQ(decode_video(sync["output"]["result"]["result_url"]).size(), 24u);

  // /run then /status until done; a failing job is FAILED with the reason.
  auto [s2, queued] = post("/run", {{"input", {{"source", dir + "/missing.mp4"}}}});
  EXPECT_EQ(s2, 200);
  EXPECT_EQ(queued["status"], "IN_QUEUE");
  json status;
  for (int i = 0; i < 200; ++i) {
    status = get("/abc123/status/" + queued["id"].get<std::string>()).second;
    if (status["status"] == "FAILED" || status["status"] == "COMPLETED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status["status"], "FAILED") << status.dump();
  EXPECT_NE(status["error"].get<std::string>().find("does not exist"), std::string::npos) << status.dump();

  // A long job: /stream shows its progress, /cancel stops it; a queued one is purged.
  auto [s3, long_job] = post("/run", {{"input", {{"source", dir + "/long.mp4"}, {"regions", {kRegion}}}}});
  auto [s4, waiting] = post("/run", {{"input", {{"source", dir + "/long.mp4"}}}});
  const std::string long_id = long_job["id"];
  json stream;
  for (int i = 0; i < 200; ++i) {
    stream = get("/abc123/stream/" + long_id).second;
    if (!stream["stream"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(stream["status"], "IN_PROGRESS") << stream.dump();
  EXPECT_FALSE(stream["stream"].empty());
  EXPECT_TRUE(stream["stream"][0]["output"].contains("frames_done"));
  auto health = get("/health").second;
  EXPECT_EQ(health["jobs"]["inProgress"], 1);
  EXPECT_EQ(health["jobs"]["inQueue"], 1);
  EXPECT_EQ(health["workers"]["running"], 1);
  auto [s5, purged] = post("/purge-queue", json::object());
  EXPECT_EQ(purged["removed"], 1);
  EXPECT_EQ(get("/status/" + waiting["id"].get<std::string>()).second["status"], "CANCELLED");
  post("/abc123/cancel/" + long_id, json::object());
  for (int i = 0; i < 100 && status["status"] != "CANCELLED"; ++i) {
    status = get("/status/" + long_id).second;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status["status"], "CANCELLED");
  health = get("/abc123/health").second;
  EXPECT_EQ(health["jobs"]["completed"], 1);
  EXPECT_EQ(health["jobs"]["inProgress"], 0);
  EXPECT_EQ(health["workers"]["idle"], 1);

  // Malformed requests: 4xx with a reason; unknown ids: 404.
  EXPECT_EQ(get("/status/no-such-job").first, 404);
  auto bad = c.Post("/run", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(post("/run", {{"inputs", {}}}).first, 400);
  EXPECT_EQ(post("/run", {{"input", "a string"}}).first, 400);
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(10), 0);
}

TEST(Worker, OldInputExamplesUrlBase64AndS3) {
  std::string why;
  auto moto = MotoServer::start(false, "old-worker", &why);
  std::string dir = temp_dir("worker_old_inputs");
  write_media(dir + "/in.mp4", marked_clip(24));
  const std::string video = slurp(dir + "/in.mp4");
  httplib::Server origin;
  origin.Get("/clip.mp4", [&](const httplib::Request&, httplib::Response& res) { res.set_content(video, "video/mp4"); });
  const int origin_port = origin.bind_to_any_port("127.0.0.1");
  std::thread origin_thread([&] { origin.listen_after_bind(); });

  FakeRunpod rp;
  rp.add_job("url", {{"source_url", "http://127.0.0.1:" + std::to_string(origin_port) + "/clip.mp4"},
                     {"watermark_config", {{"detector", "florence"}, {"force_format", "mkv"}}},
                     {"regions", {kRegion}}});
  rp.add_job("b64", {{"source_base64", base64_encode(video)}, {"filename", "holiday.mp4"}, {"regions", {kRegion}}});
  if (moto) {
    unmark::serve::StorageOptions so;
    so.s3 = {moto->endpoint(), "us-east-1", true, "AKIA", "secret"};
    unmark::serve::Storage(so).store(dir + "/in.mp4", "s3://old-worker/uploads/in.mp4", true);
    // An S3 error first (the object is not there), then a good S3 job: the worker goes on.
    rp.add_job("s3-missing", {{"source_s3", {{"bucket", "old-worker"}, {"key", "uploads/nothing.mp4"}}},
                              {"s3Config", {{"accessId", "AKIA"}, {"accessSecret", "secret"},
                                            {"endpointUrl", moto->endpoint()}}}});
    rp.add_job("s3", {{"source_s3", {{"bucket", "old-worker"}, {"key", "uploads/in.mp4"}}},
                      {"s3Config", {{"accessId", "AKIA"}, {"accessSecret", "secret"}, {"bucketName", "old-worker"},
                                    {"endpointUrl", moto->endpoint()}, {"forcePathStyle", true}}},
                      {"s3_prefix", "results"},
                      {"regions", {kRegion}}});
  }
  ChildProcess worker(worker_args(dir, {"--allow-private-urls"}), rp.env(1000), dir + "/worker.log");

  json url = rp.result("url");
  ASSERT_EQ(url["output"]["status"], "success") << url.dump() << worker.log();
  EXPECT_EQ(url["output"]["result"]["filename"], "clip_clean.mkv");
  EXPECT_EQ(decode_video(url["output"]["result"]["result_url"]).size(), 24u);
  json b64 = rp.result("b64");
  ASSERT_EQ(b64["output"]["status"], "success") << b64.dump();
  EXPECT_EQ(b64["output"]["result"]["filename"], "holiday_clean.mp4");
  EXPECT_EQ(decode_video(b64["output"]["result"]["result_url"]).size(), 24u);
  if (moto) {
    json missing = rp.result("s3-missing");
    EXPECT_EQ(missing["output"]["status"], "error") << missing.dump();
    EXPECT_NE(missing["error"].get<std::string>().find("does not exist"), std::string::npos) << missing.dump();
    json s3 = rp.result("s3");
    ASSERT_EQ(s3["output"]["status"], "success") << s3.dump() << worker.log();
    const std::string link = s3["output"]["result"]["result_url"];
    EXPECT_EQ(link.rfind(moto->endpoint() + "/old-worker/results/in_clean.mp4?", 0), 0u) << link;
    httplib::Client get("127.0.0.1", moto->port());
    auto r = get.Get(link.substr(moto->endpoint().size()).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    std::ofstream(dir + "/from-s3.mp4", std::ios::binary) << r->body;
    EXPECT_EQ(decode_video(dir + "/from-s3.mp4").size(), 24u);
  }
  origin.stop();
  origin_thread.join();
  if (!moto) GTEST_SKIP() << "URL and base64 checked; S3 skipped: " << why;
}

// `unmark serve` end to end: the real binary on 127.0.0.1 with an ephemeral port, driven over
// HTTP as a client would. Jobs run on small clips the tests make.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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
namespace fs = std::filesystem;

namespace {

using ServeProcess = ServerProcess;  // `unmark serve` (support/server_process.h)

json body_of(const httplib::Result& r) {
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

json submit(httplib::Client& c, const json& request) {
  auto r = c.Post("/api/v1/jobs", request.dump(), "application/json");
  EXPECT_TRUE(r);
  if (!r) return json();
  EXPECT_EQ(r->status, 202) << r->body;
  return body_of(r);
}

json get_job(httplib::Client& c, const std::string& id) { return body_of(c.Get(("/api/v1/jobs/" + id).c_str())); }

// Polls until the job has `status` (or any finished status when `status` is empty).
json wait_for(httplib::Client& c, const std::string& id, const std::string& status = "", int seconds = 120) {
  json job;
  for (int i = 0; i < seconds * 20; ++i) {
    job = get_job(c, id);
    std::string s = job.value("status", "");
    if (status.empty() ? (s == "completed" || s == "failed" || s == "cancelled") : s == status) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " never reached '" << status << "': " << job.dump();
  return job;
}

const char* kRegion = "18,18,64,28";

}  // namespace

TEST(Serve, JsonJobMatchesTheCliAndStreamsProgress) {
  std::string dir = temp_dir("serve_json");
  write_media(dir + "/in.mp4", marked_clip(48));
  ServeProcess server(dir);
  auto c = server.client();
  json job = submit(c, {{"source_uri", dir + "/in.mp4"}, {"regions", {kRegion}}, {"metadata", {{"user", "u1"}}}});
  ASSERT_TRUE(job.contains("id"));
  const std::string id = job["id"];
  // An idle worker may have taken it already by the time the answer is written.
  EXPECT_TRUE(job["status"] == "queued" || job["status"] == "processing") << job.dump();
  EXPECT_EQ(job["metadata"]["user"], "u1");

  // Server-sent events: progress events, then one "done" with the finished job.
  std::string stream;
  auto sse = c.Get(("/api/v1/jobs/" + id + "/events").c_str(), [&](const char* data, size_t n) {
    stream.append(data, n);
    return true;
  });
  ASSERT_TRUE(sse);
  EXPECT_EQ(sse->get_header_value("Content-Type"), "text/event-stream");
  ASSERT_NE(stream.find("event: done"), std::string::npos) << stream;
  json done = json::parse(stream.substr(stream.rfind("data: ") + 6, stream.find('\n', stream.rfind("data: ")) - stream.rfind("data: ") - 6));
  EXPECT_EQ(done["status"], "completed");

  json finished = wait_for(c, id);
  ASSERT_EQ(finished["status"], "completed") << finished.dump();
  EXPECT_DOUBLE_EQ(finished["progress"].get<double>(), 1.0);
  EXPECT_EQ(finished["frames_done"], 48);
  EXPECT_EQ(finished["report"]["path"], "cpu");
  EXPECT_FALSE(finished["report"]["encoder"].get<std::string>().empty());
  EXPECT_GT(finished["report"]["stages"]["encode"].get<double>(), 0);
  EXPECT_EQ(finished["attempts"], 1);
  // Every stage's log lines name the job, so jobs running side by side can be told apart.
  for (const char* stage : {"serve: started", "pipeline: ", "decode: decoded", "encode: encoded"})
    EXPECT_NE(server.log().find("job " + id + ": " + stage), std::string::npos) << stage << "\n" << server.log();

  auto result = c.Get(("/api/v1/jobs/" + id + "/result").c_str());
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "video/mp4");
  std::ofstream(dir + "/served.mp4", std::ios::binary) << result->body;

  // Range requests resume downloads.
  auto part = c.Get(("/api/v1/jobs/" + id + "/result").c_str(), {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, result->body.substr(10, 10));

  auto preview = c.Get(("/api/v1/jobs/" + id + "/preview.png").c_str());
  ASSERT_TRUE(preview);
  EXPECT_EQ(preview->status, 200);
  EXPECT_EQ(preview->body.substr(1, 3), "PNG");

  // The same options through the CLI give the same video.
  std::string cmd = std::string(UNMARK_BINARY) + " -q remove " + dir + "/in.mp4 -o " + dir + "/cli.mp4 --region " + kRegion;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto served = decode_video(dir + "/served.mp4");
  auto cli = decode_video(dir + "/cli.mp4");
  ASSERT_EQ(served.size(), cli.size());
  ASSERT_EQ(served.size(), 48u);
  for (size_t i = 0; i < served.size(); ++i)
    EXPECT_GE(psnr(served[i], cli[i], nullptr, nullptr), 60.0) << "frame " << i;

  auto list = body_of(c.Get("/api/v1/jobs?status=completed"));
  EXPECT_EQ(list["total"], 1);
  EXPECT_EQ(list["jobs"][0]["id"], id);
  json ready = body_of(c.Get("/readiness"));
  EXPECT_EQ(ready["ready"], true) << ready.dump();
  EXPECT_EQ(ready["gpu"]["path"], "cpu");
  EXPECT_FALSE(ready["gpu"]["reason"].get<std::string>().empty()) << "readiness does not say why the GPU is unused";
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("unmark_jobs{state=\"completed\"} 1"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("unmark_frames_processed_total 48"), std::string::npos) << metrics->body;
}

TEST(Serve, UploadsAreStreamedAndChecked) {
  std::string dir = temp_dir("serve_upload");
  write_media(dir + "/in.mp4", marked_clip(24));
  std::ofstream(dir + "/notes.txt") << "this is not a video\n";
  ServeProcess server(dir, {"--max-upload-mb", "1"});
  auto c = server.client();

  httplib::MultipartFormDataItems items = {
      {"file", slurp(dir + "/in.mp4"), "in.mp4", "video/mp4"},
      {"regions", json::array({kRegion}).dump(), "", ""},
      {"priority", "7", "", ""},
      {"metadata", R"({"from": "upload"})", "", ""},
  };
  auto r = c.Post("/api/v1/jobs/upload", items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json job = body_of(r);
  EXPECT_EQ(job["priority"], 7);
  EXPECT_EQ(job["metadata"]["from"], "upload");
  json finished = wait_for(c, job["id"]);
  EXPECT_EQ(finished["status"], "completed") << finished.dump();
  EXPECT_EQ(finished["frames_done"], 24);

  auto bad = c.Post("/api/v1/jobs/upload", httplib::MultipartFormDataItems{{"file", slurp(dir + "/notes.txt"), "notes.mp4", "video/mp4"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  EXPECT_EQ(body_of(bad)["error"]["code"], "not_a_video");

  std::string big(1536 * 1024, 'x');
  auto too_big = c.Post("/api/v1/jobs/upload", httplib::MultipartFormDataItems{{"file", big, "big.mp4", "video/mp4"}});
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);

  auto no_file = c.Post("/api/v1/jobs/upload", httplib::MultipartFormDataItems{{"priority", "3", "", ""}});
  ASSERT_TRUE(no_file);
  EXPECT_EQ(no_file->status, 400);
  // Refused uploads leave nothing behind: only the accepted job's directory remains.
  int dirs = 0;
  for (auto& e : fs::directory_iterator(dir + "/data/jobs")) dirs += e.is_directory();
  EXPECT_EQ(dirs, 1);
}

TEST(Serve, BadRequestsGetTheRightStatusAndTheServerKeepsServing) {
  std::string dir = temp_dir("serve_bad");
  write_media(dir + "/in.mp4", marked_clip(12));
  std::ofstream(dir + "/notes.mp4") << "not a video";
  fs::create_symlink("/etc/passwd", dir + "/escape.mp4");
  ServeProcess server(dir);
  auto c = server.client();
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, "invalid_json"},
      {"[1, 2]", 400, "invalid_body"},
      {R"({"job_type": "sharpen", "source_uri": "/x.mp4"})", 422, "invalid_job_type"},
      {R"({"job_type": "watermark_removal"})", 400, "missing_field"},
      {R"({"source_uri": ")" + dir + R"(/missing.mp4"})", 404, "source_not_found"},
      {R"({"source_uri": "/etc/passwd"})", 403, "path_not_allowed"},
      {R"({"source_uri": ")" + dir + R"(/../../../etc/passwd"})", 403, "path_not_allowed"},
      {R"({"source_uri": ")" + dir + R"(/escape.mp4"})", 403, "path_not_allowed"},
      {R"({"source_uri": ")" + dir + R"(/notes.mp4"})", 422, "not_a_video"},
      {R"({"source_uri": "http://127.0.0.1:9/x.mp4"})", 403, "private_url"},
      {R"({"source_uri": "http://169.254.169.254/latest/meta-data"})", 403, "private_url"},
      {R"({"source_uri": "http://[::1]/x.mp4"})", 403, "private_url"},
      {R"({"source_uri": "http://localhost/x.mp4"})", 403, "private_url"},
      {R"({"source_uri": "ftp://example.com/x.mp4"})", 422, "unsupported_uri"},
      {R"({"source_uri": "data:video/mp4;base64,@@@"})", 422, "invalid_base64"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "priority": 11})", 422, "invalid_field"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "priority": "high"})", 400, "invalid_field"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "watermark_removal_config": {"detector": "magic"}})", 422, "invalid_field"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "regions": ["1,2,3"]})", 422, "invalid_field"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "encoder": "divx"})", 422, "invalid_field"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "target_uri": ")" + dir + R"(/in.mp4"})", 409, "target_exists"},
      {R"({"source_uri": ")" + dir + R"(/in.mp4", "target_uri": "/root/out.mp4"})", 403, "path_not_allowed"},
  };
  for (const Case& k : cases) {
    auto r = c.Post("/api/v1/jobs", k.body, "application/json");
    ASSERT_TRUE(r) << k.body;
    EXPECT_EQ(r->status, k.status) << k.body << " -> " << r->body;
    json e = body_of(r);
    EXPECT_EQ(e["error"]["code"], k.code) << k.body << " -> " << r->body;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(c.Get("/api/v1/jobs/00000000-0000-4000-8000-000000000000")->status, 404);
  EXPECT_EQ(c.Get("/api/v1/jobs/00000000-0000-4000-8000-000000000000/result")->status, 404);
  EXPECT_EQ(c.Get("/api/v1/nothing")->status, 404);
  EXPECT_EQ(c.Get("/api/v1/jobs?status=sleeping")->status, 422);
  // A body over the limit is refused from its Content-Length, before it is sent.
  EXPECT_EQ(server.raw("POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2097152\r\n\r\n").substr(0, 12),
            "HTTP/1.1 413");
  EXPECT_EQ(body_of(c.Get("/api/v1/jobs"))["total"], 0);  // nothing was queued
  EXPECT_EQ(c.Get("/health")->status, 200);

  // A source that fails in the job: the job fails with the reason, the server goes on.
  json job = submit(c, {{"source_uri", "data:video/mp4;base64,AAAA"}});
  json failed = wait_for(c, job["id"]);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_FALSE(failed["error"].get<std::string>().empty());
  EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Serve, BearerTokenGuardsEverythingButHealth) {
  std::string dir = temp_dir("serve_auth");
  ServeProcess server(dir, {"--token", "s3cret"});
  auto anonymous = server.client();
  EXPECT_EQ(anonymous.Get("/health")->status, 200);
  auto r = anonymous.Get("/api/v1/jobs");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(body_of(r)["error"]["code"], "unauthorized");
  EXPECT_EQ(anonymous.Get("/metrics")->status, 401);
  EXPECT_EQ(server.client("wrong").Get("/api/v1/jobs")->status, 401);
  EXPECT_EQ(server.client("s3cret").Get("/api/v1/jobs")->status, 200);
}

TEST(Serve, CancelStopsQueuedAndRunningJobs) {
  std::string dir = temp_dir("serve_cancel");
  MediaSpec spec = marked_clip(900);
  spec.width = 640;
  spec.height = 360;
  write_media(dir + "/long.mp4", spec);
  ServeProcess server(dir, {"--concurrency", "1"});
  auto c = server.client();
  json running = submit(c, {{"source_uri", dir + "/long.mp4"}, {"regions", {kRegion}}, {"preset", "medium"}});
  json queued = submit(c, {{"source_uri", dir + "/long.mp4"}, {"regions", {kRegion}}});
  wait_for(c, running["id"], "processing");

  auto r = c.Post(("/api/v1/jobs/" + queued["id"].get<std::string>() + "/cancel").c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["status"], "cancelled");

  const auto start = std::chrono::steady_clock::now();
  r = c.Post(("/api/v1/jobs/" + running["id"].get<std::string>() + "/cancel").c_str());
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["status"], "cancelled");
  EXPECT_LT(took, 2.0);
  // No partial output is left in the job's directory.
  for (auto& e : fs::directory_iterator(dir + "/data/jobs/" + running["id"].get<std::string>()))
    ADD_FAILURE() << "left behind: " << e.path();
  EXPECT_EQ(c.Post(("/api/v1/jobs/" + running["id"].get<std::string>() + "/cancel").c_str())->status, 409);
  EXPECT_EQ(c.Get(("/api/v1/jobs/" + running["id"].get<std::string>() + "/result").c_str())->status, 409);

  auto del = c.Delete(("/api/v1/jobs/" + running["id"].get<std::string>()).c_str());
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(c.Get(("/api/v1/jobs/" + running["id"].get<std::string>()).c_str())->status, 404);
}

TEST(Serve, JobsSurviveAKillAndPriorityOrdersTheQueue) {
  std::string dir = temp_dir("serve_durable");
  MediaSpec spec = marked_clip(600);
  spec.width = 640;
  spec.height = 360;
  write_media(dir + "/long.mp4", spec);
  write_media(dir + "/short.mp4", marked_clip(12));
  std::string id, low, high;
  {
    ServeProcess server(dir, {"--concurrency", "1"});
    auto c = server.client();
    id = submit(c, {{"source_uri", dir + "/long.mp4"}, {"regions", {kRegion}}})["id"];
    low = submit(c, {{"source_uri", dir + "/short.mp4"}, {"priority", 2}})["id"];
    high = submit(c, {{"source_uri", dir + "/short.mp4"}, {"priority", 9}})["id"];
    wait_for(c, id, "processing");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.kill_now();  // kill -9 mid-job
  }
  ServeProcess restarted(dir, {"--concurrency", "1"});
  auto c = restarted.client();
  json job = wait_for(c, id);
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["attempts"], 2);
  EXPECT_EQ(job["frames_done"], 600);
  json a = wait_for(c, high), b = wait_for(c, low);
  EXPECT_EQ(a["status"], "completed");
  EXPECT_EQ(b["status"], "completed");
  EXPECT_LT(a["started_at"].get<std::string>(), b["started_at"].get<std::string>());  // priority 9 first
  EXPECT_NE(restarted.log().find("1 back in the queue"), std::string::npos) << restarted.log();
  EXPECT_EQ(restarted.terminate(), 0);
}

TEST(Serve, AJobThatKeepsKillingTheServerFailsWithTheReason) {
  std::string dir = temp_dir("serve_retry");
  MediaSpec spec = marked_clip(600);
  spec.width = 640;
  spec.height = 360;
  write_media(dir + "/long.mp4", spec);
  std::string id;
  {
    ServeProcess server(dir, {"--max-attempts", "1"});
    auto c = server.client();
    id = submit(c, {{"source_uri", dir + "/long.mp4"}, {"regions", {kRegion}}})["id"];
    wait_for(c, id, "processing");
    server.kill_now();
  }
  ServeProcess restarted(dir, {"--max-attempts", "1"});
  auto c = restarted.client();
  json job = get_job(c, id);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_NE(job["error"].get<std::string>().find("server stopped"), std::string::npos) << job.dump();
}

TEST(Serve, TwentyJobsWithConcurrencyTwoAllComplete) {
  std::string dir = temp_dir("serve_many");
  write_media(dir + "/in.mp4", marked_clip(12));
  ServeProcess server(dir, {"--concurrency", "2"});
  auto c = server.client();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(submit(c, {{"source_uri", dir + "/in.mp4"}, {"regions", {kRegion}}, {"metadata", {{"n", i}}}})["id"]);
  for (int i = 0; i < 20; ++i) {
    json job = wait_for(c, ids[size_t(i)]);
    EXPECT_EQ(job["status"], "completed") << job.dump();
    EXPECT_EQ(job["metadata"]["n"], i);
    EXPECT_EQ(job["frames_done"], 12);
  }
  EXPECT_EQ(body_of(c.Get("/api/v1/jobs?status=completed&limit=5"))["jobs"].size(), 5u);
  EXPECT_EQ(body_of(c.Get("/api/v1/jobs?status=completed&limit=500"))["total"], 20);
}

TEST(Serve, HttpSourcesDownloadWhenPrivateAddressesAreAllowed) {
  std::string dir = temp_dir("serve_http");
  write_media(dir + "/in.mp4", marked_clip(12));
  httplib::Server origin;
  const std::string video = slurp(dir + "/in.mp4");
  std::string seen_header;
  origin.Get("/clip.mp4", [&](const httplib::Request& req, httplib::Response& res) {
    seen_header = req.get_header_value("X-Token");
    res.set_content(video, "video/mp4");
  });
  origin.Get("/moved", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/clip.mp4"); });
  int port = origin.bind_to_any_port("127.0.0.1");
  std::thread origin_thread([&] { origin.listen_after_bind(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  {
    ServeProcess server(dir, {"--allow-private-urls"});
    auto c = server.client();
    json ok = submit(c, {{"source_uri", base + "/moved"}, {"source_headers", {{"X-Token", "abc"}}}, {"regions", {kRegion}}});
    json missing = submit(c, {{"source_uri", base + "/missing.mp4"}});
    json done = wait_for(c, ok["id"]);
    EXPECT_EQ(done["status"], "completed") << done.dump();
    EXPECT_EQ(seen_header, "abc");
    json failed = wait_for(c, missing["id"]);
    EXPECT_EQ(failed["status"], "failed");
    EXPECT_EQ(failed["error_stage"], "fetch");
    EXPECT_NE(failed["error"].get<std::string>().find("HTTP 404"), std::string::npos) << failed.dump();
  }
  origin.stop();
  origin_thread.join();
}

TEST(Serve, S3SourceAndTargetRoundTripWithAPresignedResult) {
  std::string why;
  auto open = MotoServer::start(false, "unmark-jobs", &why);
  auto checked = open ? MotoServer::start(true, "unmark-checked", &why) : nullptr;
  if (!open || !checked) GTEST_SKIP() << why;
  std::string dir = temp_dir("serve_s3");
  write_media(dir + "/in.mp4", marked_clip(12));
  {
    unmark::serve::StorageOptions so;
    so.s3.endpoint = open->endpoint();
    so.s3.path_style = true;
    so.s3.access_key = "AKIAUNMARK";
    so.s3.secret_key = "secret";
    unmark::serve::Storage(so).store(dir + "/in.mp4", "s3://unmark-jobs/in/clip.mp4", true);
  }
  ServeProcess server(dir, {"--s3-endpoint", open->endpoint(), "--s3-path-style", "--allow-private-urls"},
                      {{"AWS_ACCESS_KEY_ID", "AKIAUNMARK"}, {"AWS_SECRET_ACCESS_KEY", "secret"}});
  auto c = server.client();

  // The service's own names: s3:// source and target.
  json a = submit(c, {{"source_uri", "s3://unmark-jobs/in/clip.mp4"},
                      {"target_uri", "s3://unmark-jobs/out/clean.mp4"},
                      {"regions", {kRegion}}});
  // The old worker's: s3Config names the bucket, the result goes under s3_prefix as <id>.mp4.
  json b = submit(c, {{"source_uri", "s3://unmark-jobs/in/clip.mp4"},
                      {"s3Config", {{"accessId", "AKIAUNMARK"}, {"accessSecret", "secret"}, {"bucketName", "unmark-jobs"}}},
                      {"s3_prefix", "results"},
                      {"regions", {kRegion}}});
  json done_a = wait_for(c, a["id"]);
  json done_b = wait_for(c, b["id"]);
  ASSERT_EQ(done_a["status"], "completed") << done_a.dump();
  ASSERT_EQ(done_b["status"], "completed") << done_b.dump();
  EXPECT_EQ(done_b["target_uri"], "s3://unmark-jobs/results/");
  EXPECT_NE(done_b["result_url"].get<std::string>().find("/unmark-jobs/results/" + b["id"].get<std::string>() + ".mp4?"),
            std::string::npos);
  EXPECT_EQ(done_b.dump().find("secret"), std::string::npos) << "the API showed the S3 secret";

  // The presigned URL is a plain GET anyone can make; it returns the job's result, byte for byte.
  auto local = c.Get(("/api/v1/jobs/" + a["id"].get<std::string>() + "/result").c_str());
  ASSERT_TRUE(local);
  const std::string url = done_a["result_url"];
  ASSERT_EQ(url.rfind(open->endpoint() + "/unmark-jobs/out/clean.mp4?", 0), 0u) << url;
  EXPECT_NE(url.find("X-Amz-Signature="), std::string::npos);
  httplib::Client s3("127.0.0.1", open->port());
  auto fetched = s3.Get(url.substr(open->endpoint().size()).c_str());
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->status, 200);
  EXPECT_GT(local->body.size(), 1000u);
  EXPECT_EQ(fetched->body, local->body);

  // Refused at submit, each with its status: the target exists; a missing object; wrong
  // credentials (moto checks signatures here as AWS does).
  auto again = c.Post("/api/v1/jobs", json({{"source_uri", "s3://unmark-jobs/in/clip.mp4"},
                                            {"target_uri", "s3://unmark-jobs/out/clean.mp4"}}).dump(), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  auto missing = c.Post("/api/v1/jobs", json({{"source_uri", "s3://unmark-jobs/in/nothing.mp4"}}).dump(), "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  auto wrong = c.Post("/api/v1/jobs",
                      json({{"source_uri", "s3://unmark-checked/in.mp4"},
                            {"s3Config", {{"endpointUrl", checked->endpoint()}, {"accessId", checked->access_key()},
                                          {"accessSecret", "wrong"}}}}).dump(),
                      "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403) << wrong->body;
  EXPECT_EQ(body_of(wrong)["error"]["code"], "s3_access_denied");
  EXPECT_NE(wrong->body.find("SignatureDoesNotMatch"), std::string::npos) << wrong->body;
  EXPECT_EQ(body_of(c.Get("/health"))["status"], "ok");
}

namespace {

// A minimal WebDriver client (W3C protocol over HTTP) for chromedriver driving headless Chromium.
class Browser {
 public:
  static std::unique_ptr<Browser> start(const std::string& dir, std::string* why) {
    for (const char* tool : {"/usr/bin/chromedriver", "/usr/bin/chromium"})
      if (access(tool, X_OK) != 0) {
        *why = std::string(tool) + " is not installed (apt-get install chromium chromium-driver)";
        return nullptr;
      }
    std::unique_ptr<Browser> b(new Browser());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    b->port_ = ntohs(addr.sin_port);
    close(fd);
    b->pid_ = fork();
    if (b->pid_ == 0) {
      setpgid(0, 0);
      std::string log = dir + "/chromedriver.log";
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::string port = "--port=" + std::to_string(b->port_);
      execl("/usr/bin/chromedriver", "chromedriver", port.c_str(), nullptr);
      _exit(127);
    }
    httplib::Client c("127.0.0.1", b->port_);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      if (auto r = c.Get("/status"); r && r->status == 200) up = true;
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions",
                      {{"binary", "/usr/bin/chromium"},
                       {"args", {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--window-size=1400,1000", "--user-data-dir=" + dir + "/chromium-profile"}}}}}}}}};
    json session = up ? b->call("POST", "/session", caps) : json();
    if (!session.contains("sessionId")) {
      *why = "chromedriver did not start a session: " + session.dump();
      return nullptr;
    }
    b->session_ = "/session/" + session["sessionId"].get<std::string>();
    return b;
  }

  ~Browser() {
    if (!session_.empty()) call("DELETE", session_, json());
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void open(const std::string& url) { call("POST", session_ + "/url", {{"url", url}}); }
  json script(const std::string& body, json args = json::array()) {
    return call("POST", session_ + "/execute/sync", {{"script", body}, {"args", args}});
  }
  std::string element(const std::string& css) {
    json e = call("POST", session_ + "/element", {{"using", "css selector"}, {"value", css}});
    const char* key = "element-6066-11e4-a52e-4f735466cecf";  // the W3C web element identifier
    return e.is_object() && e.contains(key) ? e[key].get<std::string>() : "";
  }
  void type(const std::string& css, const std::string& text) {
    call("POST", session_ + "/element/" + element(css) + "/value", {{"text", text}});
  }
  void click(const std::string& css) { call("POST", session_ + "/element/" + element(css) + "/click", json::object()); }
  // Polls `condition` (a JavaScript expression) until it is true.
  bool wait_until(const std::string& condition, int seconds) {
    for (int i = 0; i < seconds * 5; ++i) {
      if (script("return !!(" + condition + ");") == json(true)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
  std::string screenshot_png() {
    json v = call("GET", session_ + "/screenshot", json());
    return v.is_string() ? unmark::serve::decode_base64(v.get<std::string>()) : "";
  }

 private:
  Browser() = default;
  json call(const std::string& method, const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    httplib::Result r = method == "GET"      ? c.Get(path.c_str())
                        : method == "DELETE" ? c.Delete(path.c_str())
                                             : c.Post(path.c_str(), body.dump(), "application/json");
    if (!r) return json();
    json answer = json::parse(r->body, nullptr, false);
    if (r->status != 200) ADD_FAILURE() << method << " " << path << ": " << r->body.substr(0, 400);
    return answer.is_object() && answer.contains("value") ? answer["value"] : json();
  }
  pid_t pid_ = -1;
  int port_ = 0;
  std::string session_;
};

}  // namespace

// The web page in a real browser: choose options (regions, a cut), upload a clip, follow the job
// over server-sent events, see the before/after preview, download the clean video and check it.
TEST(Serve, WebPageUploadsFollowsAndDownloadsInARealBrowser) {
  std::string dir = temp_dir("serve_web");
  std::string why;
  auto browser = Browser::start(dir, &why);
  if (!browser) GTEST_SKIP() << why;
  MediaSpec spec = marked_clip(90);
  write_media(dir + "/clip with mark.mp4", spec);
  MediaSpec clean_spec = spec;
  clean_spec.mark = {};
  write_media(dir + "/clean.mp4", clean_spec);
  ServeProcess server(dir);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  browser->open(base + "/");
  ASSERT_TRUE(browser->wait_until("document.querySelector('#detect option[value=regions]')", 20))
      << "the page did not load its options";
  EXPECT_EQ(browser->script("return document.querySelector('#server-state').textContent.trim();"), "Ready · CPU · v" UNMARK_VERSION);
  browser->script(
      "const d = document.getElementById('detect'); d.value = 'regions'; d.dispatchEvent(new Event('change'));"
      "document.getElementById('regions').value = arguments[0];"
      "document.getElementById('end').value = '2';",  // the cut: the first 2 s of the 3 s clip
      {kRegion});
  browser->type("#file", dir + "/clip with mark.mp4");
  ASSERT_TRUE(browser->wait_until("!document.getElementById('submit').disabled", 10));
  browser->click("#submit");
  ASSERT_TRUE(browser->wait_until("document.getElementById('job-status').textContent === 'completed' && "
                                  "!document.getElementById('download').hidden && "
                                  "document.getElementById('preview-img').naturalWidth > 0",
                                  120))
      << browser->script("return document.getElementById('job-view').innerText;").dump() << server.log();
  EXPECT_EQ(browser->script("return window.unmarkTransport;"), "sse");
  EXPECT_GE(browser->script("return window.unmarkProgressEvents;").get<int>(), 1);
  EXPECT_EQ(browser->script("return document.getElementById('job-name').textContent;"), "clip with mark.mp4");
  EXPECT_EQ(browser->script("return document.getElementById('download').getAttribute('download');"),
            "clip with mark.clean.mp4");
  EXPECT_TRUE(browser->wait_until("document.getElementById('recent').textContent.includes('clip with mark.mp4completed')", 10))
      << browser->script("return document.getElementById('recent').textContent;");

  const std::string png = browser->screenshot_png();
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  std::ofstream(dir + "/web-page.png", std::ios::binary) << png;

  // The download link gives the clean video: every frame, the mark's box now close to the clean clip.
  const std::string href = browser->script("return document.getElementById('download').href;");
  ASSERT_EQ(href.rfind(base + "/api/v1/jobs/", 0), 0u) << href;
  auto c = server.client();
  auto video = c.Get(href.substr(base.size()).c_str());
  ASSERT_TRUE(video);
  ASSERT_EQ(video->status, 200);
  std::ofstream(dir + "/downloaded.mp4", std::ios::binary) << video->body;
  auto out = decode_video(dir + "/downloaded.mp4");
  auto in = decode_video(dir + "/clip with mark.mp4");
  auto clean = decode_video(dir + "/clean.mp4");
  ASSERT_EQ(out.size(), 60u) << "the page's cut (end 2 s) was not applied";
  double before = 0, after = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    before += mean_abs_diff_in(in[i], clean[i], spec.mark);
    after += mean_abs_diff_in(out[i], clean[i], spec.mark);
  }
  EXPECT_LT(after, before * 0.3) << "the mark is still there: before " << before / 60 << ", after " << after / 60;
}

TEST(Serve, TranscodeJobsTrimScaleRetimeAndDropAudioButTakeNoRawFfmpegArguments) {
  std::string dir = temp_dir("serve_transcode");
  write_media(dir + "/in.mp4", marked_clip(60));  // 2 s at 30 fps, 320x240, with audio
  ServeProcess server(dir);
  auto c = server.client();
  json job = submit(c, {{"job_type", "transcode"},
                        {"source_uri", dir + "/in.mp4"},
                        {"transcode_config", {{"start", 0.5}, {"end", 1.5}, {"scale", "160x-1"}, {"fps", 15}, {"audio", "drop"}}},
                        {"crf", 23},
                        {"force_format", "mkv"}});
  json done = wait_for(c, job["id"]);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["options"]["detect"], "none");
  EXPECT_EQ(done["options"]["fps"], 15.0);
  auto result = c.Get(("/api/v1/jobs/" + job["id"].get<std::string>() + "/result").c_str());
  ASSERT_TRUE(result);
  std::ofstream(dir + "/out.mkv", std::ios::binary) << result->body;
  auto frames = decode_video(dir + "/out.mkv");
  ASSERT_EQ(frames.size(), 15u);  // one second at 15 fps
  EXPECT_EQ(frames[0].width, 160);
  EXPECT_EQ(frames[0].height, 120);
  EXPECT_TRUE(read_packets(dir + "/out.mkv", AVMEDIA_TYPE_AUDIO).empty());

  for (const json& bad : {json{{"source_uri", dir + "/in.mp4"}, {"ffmpeg_args", {"-i", "/etc/passwd"}}},
                          json{{"source_uri", dir + "/in.mp4"}, {"transcode_config", {{"output_args", "-y /tmp/x"}}}},
                          json{{"source_uri", dir + "/in.mp4"}, {"transcode_config", {{"start", 3}, {"end", 1}}}},
                          json{{"source_uri", dir + "/in.mp4"}, {"transcode_config", {{"scale", "big"}}}},
                          json{{"source_uri", dir + "/in.mp4"}, {"transcode_config", {{"audio", "loud"}}}}}) {
    auto r = c.Post("/api/v1/jobs", bad.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << bad.dump() << " -> " << r->body;
  }
  auto r = c.Post("/api/v1/jobs", json({{"source_uri", dir + "/in.mp4"}, {"ffmpeg_args", "-f"}}).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(body_of(r)["error"]["code"], "raw_ffmpeg_refused");
}

// The old Python worker's clients, unchanged: its routes, form fields, job types, detector names
// and RunPod URL forms, sent to `unmark serve` and `unmark worker --serve-api` as those clients
// send them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/media.h"
#include "support/server_process.h"

using namespace unmark::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kRegion = "18,18,64,28";

json parsed(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

json wait_finished(httplib::Client& c, const std::string& id) {
  json job = json::object();
  for (int i = 0; i < 2400; ++i) {
    job = parsed(c.Get(("/api/v1/jobs/" + id).c_str()));
    const std::string s = job.is_object() ? job.value("status", "") : "";
    if (s == "completed" || s == "failed" || s == "cancelled") return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " never finished: " << job.dump();
  return job;
}

}  // namespace

TEST(Compat, OldRestCallsWorkUnchanged) {
  const std::string dir = temp_dir("compat_rest");
  write_media(dir + "/in.mp4", marked_clip(24));
  ServerProcess server(dir);
  auto c = server.client();

  for (const char* path : {"/api/v1/health", "/api/v1/readiness"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }

  // The old re-encode job type runs as a transcode; its raw arguments stay refused.
  auto vp = c.Post("/api/v1/jobs", json({{"job_type", "video_processing"}, {"source_uri", dir + "/in.mp4"}}).dump(),
                   "application/json");
  ASSERT_TRUE(vp);
  ASSERT_EQ(vp->status, 202) << vp->body;
  EXPECT_EQ(parsed(vp)["job_type"], "transcode");
  EXPECT_FALSE(parsed(vp)["warnings"].empty());
  EXPECT_EQ(wait_finished(c, parsed(vp)["id"])["status"], "completed");
  auto raw = c.Post("/api/v1/jobs",
                    json({{"job_type", "video_processing"}, {"source_uri", dir + "/in.mp4"},
                          {"ffmpeg_args", "-i /etc/passwd"}}).dump(),
                    "application/json");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 422);

  // The old default detector names: taken as automatic detection, with a warning.
  for (const char* detector : {"florence", "flo"}) {
    auto r = c.Post("/api/v1/jobs",
                    json({{"source_uri", dir + "/in.mp4"}, {"watermark_removal_config", {{"detector", detector}}}})
                        .dump(),
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << detector << ": " << r->body;
    EXPECT_FALSE(parsed(r)["warnings"].empty()) << r->body;
  }

  // The old upload form's field names.
  auto up = c.Post("/api/v1/jobs/upload",
                   httplib::MultipartFormDataItems{
                       {"file", slurp(dir + "/in.mp4"), "in.mp4", "video/mp4"},
                       {"target_filename", "old_name.mp4", "", ""},
                       {"metadata_json", R"({"client": "old"})", "", ""},
                       {"watermark_config_json", R"({"max_bbox_percent": 15, "detector": "florence"})", "", ""},
                       {"regions", kRegion, "", ""}});
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 202) << up->body;
  const json job = parsed(up);
  EXPECT_EQ(job["metadata"]["client"], "old") << job.dump();
  EXPECT_EQ(job["watermark_removal_config"]["max_bbox_percent"], 15) << job.dump();
  EXPECT_EQ(job["output_filename"], "old_name.mp4") << job.dump();
  EXPECT_EQ(wait_finished(c, job["id"])["status"], "completed");

  // A cancel with no body at all (curl -X POST): answered, not 400.
  auto cancel = server.raw("POST /api/v1/jobs/" + job["id"].get<std::string>() + "/cancel HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(cancel.find("HTTP/1.1 400"), std::string::npos) << cancel;
  EXPECT_NE(cancel.find("HTTP/1.1 409"), std::string::npos) << cancel;  // the job had finished

  // A text file uploaded: refused without naming the server's paths.
  auto text = c.Post("/api/v1/jobs/upload",
                     httplib::MultipartFormDataItems{{"file", "just some words", "notes.txt", "text/plain"}});
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 422) << text->body;
  EXPECT_EQ(text->body.find(dir), std::string::npos) << text->body;
  EXPECT_EQ(text->body.find("/jobs/"), std::string::npos) << text->body;
}

TEST(Compat, OldRunpodCallsWorkUnchanged) {
  const std::string dir = temp_dir("compat_runpod");
  MediaSpec big = marked_clip(90);
  big.width = 640;
  big.height = 480;
  write_media(dir + "/big.mp4", big);
  const std::string video = slurp(dir + "/big.mp4");
  ASSERT_GT(video.size(), size_t(1200) << 10) << "the clip should be over a megabyte";
  ServerProcess worker(dir, {}, {}, {"worker", "--serve-api"});
  auto c = worker.client();
  c.set_read_timeout(300, 0);

  // RunPod's URL form, a base64 source over a megabyte, the old default detector.
  auto r = c.Post("/v2/my-endpoint/runsync",
                  json({{"input",
                         {{"source_base64", base64_encode(video)},
                          {"filename", "big.mp4"},
                          {"watermark_config", {{"detector", "florence"}}},
                          {"regions", {kRegion}}}}})
                      .dump(),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 300);
  const json body = parsed(r);
  EXPECT_EQ(body["status"], "COMPLETED") << body.dump().substr(0, 500);
  EXPECT_EQ(decode_video(body["output"]["result"]["result_url"]).size(), 90u);

  // Past RunPod's own limit: a 413 that says the limit, delivered whole.
  auto huge = c.Post("/v2/my-endpoint/runsync", std::string(21u << 20, ' '), "application/json");
  ASSERT_TRUE(huge) << "the client saw a broken connection instead of the 413";
  EXPECT_EQ(huge->status, 413);
  EXPECT_NE(huge->body.find("20 MiB"), std::string::npos) << huge->body;
}

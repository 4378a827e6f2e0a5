// The attacks of the hardening issue, replayed against the real binaries on loopback: each test
// sends what an attacker (or an unlucky operator) sent and asserts the fixed behaviour. See
// SECURITY.md for the threat model.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "io/probe.h"
#include "serve/http_server.h"
#include "support/media.h"
#include "support/process.h"
#include "support/server_process.h"

using namespace unmark::test;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const char* kRegion = "18,18,64,28";

json parsed(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

json wait_finished(httplib::Client& c, const std::string& id, int seconds = 120) {
  json job;
  for (int i = 0; i < seconds * 20; ++i) {
    job = parsed(c.Get(("/api/v1/jobs/" + id).c_str()));
    const std::string s = job.value("status", "");
    if (s == "completed" || s == "failed" || s == "cancelled") return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " never finished: " << job.dump();
  return job;
}

// Submits a removal of `source` with the tests' region; the job's id ("" when refused).
std::string submit_region_job(httplib::Client& c, const std::string& source) {
  auto r = c.Post("/api/v1/jobs", json({{"source_uri", source}, {"regions", {kRegion}}}).dump(), "application/json");
  EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
  const json body = parsed(r);
  return body.is_object() && body.contains("id") ? body["id"].get<std::string>() : "";
}

bool healthy(const ServerProcess& server, double timeout_s = 3) {
  httplib::Client c("127.0.0.1", server.port());
  c.set_connection_timeout(int(timeout_s), 0);
  c.set_read_timeout(int(timeout_s), 0);
  auto r = c.Get("/health");
  return r && r->status == 200;
}

// Peak resident memory of a process, in MiB (VmHWM).
double peak_rss_mib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return -1;
}

std::string request_head(const std::string& method, const std::string& path, const std::string& extra = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

// 1. A link planted beside a file target, at any name the temporary copy could take, is never
// followed; a target that is itself a link out of the allowed directory is refused.
TEST(Security, FileTargetsNeverFollowALinkOutOfTheAllowedDirectory) {
  const std::string dir = temp_dir("sec_symlink"), outside = temp_dir("sec_symlink_outside");
  write_media(dir + "/in.mp4", marked_clip(24));
  fs::create_directories(dir + "/allow");
  { std::ofstream(outside + "/victim") << "precious"; }
  fs::create_symlink(outside + "/victim", dir + "/allow/.tgt.mp4.unmark-part");  // the old fixed name
  ServerProcess server(dir);
  auto c = server.client();
  auto r = c.Post("/api/v1/jobs",
                  json({{"source_uri", dir + "/in.mp4"}, {"target_uri", dir + "/allow/tgt.mp4"}, {"regions", {kRegion}}})
                      .dump(),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json job = wait_finished(c, parsed(r)["id"]);
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(slurp(outside + "/victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir + "/allow/tgt.mp4"));
  EXPECT_EQ(decode_video(dir + "/allow/tgt.mp4").size(), 24u);

  // A target that is a link to a file outside: refused at submit, the file untouched.
  fs::create_symlink(outside + "/victim", dir + "/allow/link.mp4");
  auto linked = c.Post("/api/v1/jobs",
                       json({{"source_uri", dir + "/in.mp4"}, {"target_uri", dir + "/allow/link.mp4"},
                             {"overwrite", true}, {"regions", {kRegion}}}).dump(),
                       "application/json");
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->status, 403) << linked->body;
  EXPECT_EQ(slurp(outside + "/victim"), "precious");
}

// 2. JSON nested a hundred thousand levels deep is refused while parsing; the process lives.
TEST(Security, DeeplyNestedJsonIsRefusedAndTheServersLive) {
  const std::string dir = temp_dir("sec_nested");
  auto nested = [](int levels) { return std::string(size_t(levels), '[') + std::string(size_t(levels), ']'); };
  {
    ServerProcess server(dir);
    auto c = server.client();
    auto r = c.Post("/api/v1/jobs", "{\"source_uri\":\"/x.mp4\",\"metadata\":{\"a\":" + nested(100000) + "}}",
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("nested deeper"), std::string::npos) << r->body;
    EXPECT_TRUE(healthy(server));
  }
  ServerProcess worker(dir, {}, {}, {"worker", "--serve-api"});
  auto c = worker.client();
  auto r = c.Post("/runsync", "{\"input\":{\"source\":" + nested(400000) + "}}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(healthy(worker));
}

// 3. Bytes that are not UTF-8 (an S3 endpoint's error message, a form field, a Matroska tag)
// never make a job unlistable, a response fail or `probe` exit with an error.
TEST(Security, BytesThatAreNotUtf8NeverPoisonAJobOrAProbe) {
  const std::string dir = temp_dir("sec_utf8");
  write_media(dir + "/in.mp4", marked_clip(24));
  // An S3 endpoint that refuses every upload with a message that is not UTF-8.
  httplib::Server fake_s3;
  fake_s3.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
  auto refuse = [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content("<Error><Code>AccessDenied</Code><Message>bad \xff\xfe\xc3 bytes</Message></Error>",
                    "application/xml");
  };
  fake_s3.Put(".*", refuse);
  fake_s3.Post(".*", refuse);
  const int s3_port = fake_s3.bind_to_any_port("127.0.0.1");
  std::thread s3_thread([&] { fake_s3.listen_after_bind(); });
  {
    ServerProcess server(dir, {"--allow-private-urls"});
    auto c = server.client();
    auto r = c.Post("/api/v1/jobs",
                    json({{"source_uri", dir + "/in.mp4"},
                          {"target_uri", "s3://bucket/out.mp4"},
                          {"regions", {kRegion}},
                          {"s3Config",
                           {{"endpointUrl", "http://127.0.0.1:" + std::to_string(s3_port)},
                            {"accessId", "AKIDEXAMPLE"},
                            {"accessSecret", "secret"},
                            {"forcePathStyle", true}}}})
                        .dump(),
                    "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    const std::string id = parsed(r)["id"];
    json job = wait_finished(c, id);
    EXPECT_EQ(job["status"], "failed") << job.dump();
    EXPECT_NE(job.value("error", "").find("AccessDenied"), std::string::npos) << job.dump();
    auto list = c.Get("/api/v1/jobs");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->status, 200) << list->body;
    EXPECT_FALSE(parsed(list).is_discarded());
    auto events = c.Get(("/api/v1/jobs/" + id + "/events").c_str());
    ASSERT_TRUE(events);
    EXPECT_NE(events->body.find("AccessDenied"), std::string::npos);
    // A form field that is not UTF-8: a clear 4xx, not a 500.
    auto form = c.Post("/api/v1/jobs/upload",
                       httplib::MultipartFormDataItems{{"file", slurp(dir + "/in.mp4"), "in.mp4", "video/mp4"},
                                                       {"regions", "1,2,\xff\xfe", "", ""}});
    ASSERT_TRUE(form);
    EXPECT_GE(form->status, 400);
    EXPECT_LT(form->status, 500) << form->body;
    EXPECT_FALSE(parsed(form).is_discarded()) << form->body;
    // The same after a restart.
    server.kill_now();
    server.start({"--allow-private-urls"});
    auto again = server.client().Get(("/api/v1/jobs/" + id).c_str());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200) << again->body;
  }
  fake_s3.stop();
  s3_thread.join();

  // A Matroska file whose tags are not UTF-8 (made by ffmpeg where it is installed).
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no ffmpeg to write the tags";
  const std::string mkv = dir + "/tags.mkv";
  const std::string make = "ffmpeg -v error -y -i " + dir + "/in.mp4 -c copy -metadata \"title=$(printf 'bad \\377\\376')\" " + mkv;
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  ChildProcess probe({UNMARK_BINARY, "probe", mkv}, {}, dir + "/probe.log");
  EXPECT_EQ(probe.wait(60), 0) << probe.log();
  EXPECT_NE(probe.log().find("\"tags\""), std::string::npos) << probe.log();
}

// 4. A second server on a busy port is an error, not a silent second listener.
TEST(Security, ABusyPortIsAnError) {
  const std::string dir = temp_dir("sec_port");
  ServerProcess first(dir);
  ASSERT_GT(first.port(), 0);
  for (std::vector<std::string> command : {std::vector<std::string>{"serve", "--data", dir + "/data2"},
                                           std::vector<std::string>{"worker", "--serve-api", "--data", dir + "/data3"}}) {
    std::vector<std::string> args = {UNMARK_BINARY};
    args.insert(args.end(), command.begin(), command.end());
    args.insert(args.end(), {"--port", std::to_string(first.port())});
    ChildProcess second(args, {}, dir + "/second.log");
    const int code = second.wait(20);
    EXPECT_NE(code, 0) << second.log();
    EXPECT_NE(code, -1) << "the second server kept running: " << second.log();
    EXPECT_NE(second.log().find("cannot listen"), std::string::npos) << second.log();
  }
  EXPECT_TRUE(healthy(first));
}

// 5. Slow clients cannot starve the server: 200 connections that send a byte and stop, and 70
// open event streams, leave /health answered; a client trickling its headers is cut off.
TEST(Security, SlowClientsCannotStarveTheServer) {
  const std::string dir = temp_dir("sec_slow");
  write_media(dir + "/in.mp4", marked_clip(24));
  ServerProcess server(dir);
  auto c = server.client();
  const std::string id = submit_region_job(c, dir + "/in.mp4");
  ASSERT_FALSE(id.empty());
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(slow.back()->send("G"));
  }
  for (int i = 0; i < 70; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(slow.back()->send(request_head("GET", "/api/v1/jobs/" + id + "/events")));
  }
  const auto t0 = Clock::now();
  EXPECT_TRUE(healthy(server, 5));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 2.0);
  std::fprintf(stderr, "health under 270 held connections: %.3f s\n", std::chrono::duration<double>(Clock::now() - t0).count());

  RawConnection trickle(server.port());
  const std::string head = request_head("GET", "/health", "X-Slow: " + std::string(40, 'a') + "\r\n");
  bool cut = false;
  for (size_t i = 0; i < head.size() && !cut; ++i) {
    cut = !trickle.send(head.substr(i, 1)) || trickle.read_all(0.5).find("<closed>") != std::string::npos;
  }
  EXPECT_TRUE(cut) << "a client sending a header byte every 0.5 s was served for " << head.size() * 0.5 << " s";
  std::fprintf(stderr, "a trickling client cut off after %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());

}

// 6. Body limits hold on the bytes read: a chunked body past the limit gets 413 without being
// kept in memory; stored metadata is bounded.
TEST(Security, BodyLimitsHoldForChunkedBodiesAndMetadata) {
  const std::string dir = temp_dir("sec_chunked");
  ServerProcess server(dir);
  RawConnection conn(server.port());
  ASSERT_TRUE(conn.send(request_head("POST", "/api/v1/jobs",
                                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")));
  const std::string chunk = std::string("10000\r\n") + std::string(0x10000, 'x') + "\r\n";
  size_t sent = 0;
  while (sent < (200u << 20) && conn.send(chunk)) sent += 0x10000;
  const std::string answer = conn.read_all(5);
  EXPECT_NE(answer.find(" 413 "), std::string::npos) << answer.substr(0, 300);
  EXPECT_LT(sent, 64u << 20) << "the server kept reading a refused body";
  EXPECT_LT(peak_rss_mib(server.pid()), 150.0);
  EXPECT_TRUE(healthy(server));

  auto c = server.client();
  json big = {{"source_uri", dir + "/in.mp4"}, {"metadata", {{"blob", std::string(100 << 10, 'm')}}}};
  auto r = c.Post("/api/v1/jobs", big.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(parsed(r)["error"]["code"], "metadata_too_large");

  // JSON sent as `curl -d` sends it (labelled form-encoded), larger than the library's 8 KiB for
  // forms: taken as the JSON it is.
  write_media(dir + "/in.mp4", marked_clip(24));
  json job = {{"source_uri", dir + "/in.mp4"}, {"regions", {kRegion}}, {"metadata", {{"note", std::string(20000, 'n')}}}};
  auto form = c.Post("/api/v1/jobs", job.dump(), "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 202) << form->body.substr(0, 300);
}

// 7. Two worker jobs on one source each keep their result.
TEST(Security, WorkerResultsNeverOverwriteEachOther) {
  const std::string dir = temp_dir("sec_results");
  write_media(dir + "/in.mp4", marked_clip(24));
  ServerProcess worker(dir, {}, {}, {"worker", "--serve-api"});
  auto c = worker.client();
  std::set<std::string> paths;
  for (int i = 0; i < 2; ++i) {
    auto r = c.Post("/runsync", json({{"input", {{"source", dir + "/in.mp4"}, {"regions", {kRegion}}}}}).dump(),
                    "application/json");
    ASSERT_TRUE(r);
    json body = parsed(r);
    ASSERT_EQ(body["status"], "COMPLETED") << body.dump();
    paths.insert(body["output"]["result"]["result_url"].get<std::string>());
  }
  ASSERT_EQ(paths.size(), 2u);
  for (const std::string& p : paths) EXPECT_EQ(decode_video(p).size(), 24u) << p;
}

// 8. Ranges: overlapping ones are merged, many are ignored, one past the end is 416.
TEST(Security, RangesAreMergedCappedAndCheckedAgainstTheFile) {
  const std::string dir = temp_dir("sec_range");
  write_media(dir + "/in.mp4", marked_clip(24));
  ServerProcess server(dir);
  auto c = server.client();
  const std::string id = submit_region_job(c, dir + "/in.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(wait_finished(c, id)["status"], "completed");
  const std::string path = "/api/v1/jobs/" + id + "/result";
  auto whole = c.Get(path.c_str());
  ASSERT_TRUE(whole);
  const size_t size = whole->body.size();
  ASSERT_GT(size, 1000u);

  auto one = c.Get(path.c_str(), {{"Range", "bytes=100-199"}});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 206);
  EXPECT_EQ(one->body, whole->body.substr(100, 100));
  EXPECT_EQ(one->get_header_value("Content-Range"), "bytes 100-199/" + std::to_string(size));
  auto tail = c.Get(path.c_str(), {{"Range", "bytes=-50"}});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->body, whole->body.substr(size - 50));

  std::string many = "bytes=0-";
  for (int i = 0; i < 1000; ++i) many += ",0-" + std::to_string(size - 1);
  auto amplified = c.Get(path.c_str(), {{"Range", many}});
  ASSERT_TRUE(amplified);
  EXPECT_LE(amplified->body.size(), size);
  auto overlapping = c.Get(path.c_str(), {{"Range", "bytes=0-99,50-149"}});
  ASSERT_TRUE(overlapping);
  EXPECT_EQ(overlapping->status, 206);
  EXPECT_EQ(overlapping->body, whole->body.substr(0, 150));

  auto past = c.Get(path.c_str(), {{"Range", "bytes=999999999-"}});
  ASSERT_TRUE(past);
  EXPECT_EQ(past->status, 416);
  EXPECT_EQ(past->get_header_value("Content-Range"), "bytes */" + std::to_string(size));
}

// 9. What a kill -9 leaves is swept: an upload with no job, a CLI's temporary output.
TEST(Security, LeftoversOfAKilledProcessAreSwept) {
  const std::string dir = temp_dir("sec_leftovers");
  const std::string orphan = dir + "/data/jobs/0123456789abcdef/upload.mp4";
  fs::create_directories(fs::path(orphan).parent_path());
  { std::ofstream(orphan) << "half an upload"; }
  const auto hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(orphan, hour_ago);
  fs::last_write_time(fs::path(orphan).parent_path(), hour_ago);
  {
    ServerProcess server(dir);
    EXPECT_TRUE(healthy(server));
    EXPECT_FALSE(fs::exists(fs::path(orphan).parent_path())) << server.log();
  }

  write_media(dir + "/in.mp4", marked_clip(24));
  const std::string stale = dir + "/.out.mp4.unmark-999999999.part";
  { std::ofstream(stale) << "left by a killed run"; }
  ChildProcess cli({UNMARK_BINARY, "remove", dir + "/in.mp4", "-o", dir + "/out.mp4", "--region", kRegion}, {},
                   dir + "/cli.log");
  ASSERT_EQ(cli.wait(120), 0) << cli.log();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_EQ(decode_video(dir + "/out.mp4").size(), 24u);
}

// 10. A refused body is never parsed as a request: a request hidden in an oversized body is not
// executed, on the REST server and on the worker's RunPod API.
TEST(Security, ARefusedBodyIsNeverParsedAsTheNextRequest) {
  const std::string dir = temp_dir("sec_desync");
  for (std::vector<std::string> command : {std::vector<std::string>{"serve"}, std::vector<std::string>{"worker", "--serve-api"}}) {
    ServerProcess server(dir, {}, {}, command);
    const std::string path = command[0] == "serve" ? "/api/v1/jobs" : "/runsync";
    const std::string hidden = request_head("GET", "/health");
    std::string body = hidden + std::string((24u << 20) - hidden.size(), ' ');
    RawConnection conn(server.port());
    conn.send(request_head("POST", path,
                           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") +
              body);
    const std::string answer = conn.read_all(5);
    EXPECT_EQ(count_of(answer, "HTTP/1.1 "), 1) << answer.substr(0, 500);
    EXPECT_NE(answer.find(" 413 "), std::string::npos) << answer.substr(0, 300);
    EXPECT_EQ(answer.find("\"status\":\"ok\""), std::string::npos) << "the hidden request was served";
    EXPECT_TRUE(healthy(server));
  }
}

// 11. Smaller ones: header values with CR/LF refused at submit, worker ids that no URL can
// hold refused, a frame one pixel wide handled with one line, a cancel that says what happened.
TEST(Security, SmallerAttacksAreRefusedAtTheEdge) {
  const std::string dir = temp_dir("sec_small");
  write_media(dir + "/in.mp4", marked_clip(24));
  {
    ServerProcess server(dir);
    auto c = server.client();
    auto r = c.Post("/api/v1/jobs",
                    json({{"source_uri", "http://example.com/a.mp4"},
                          {"source_headers", {{"X-A", "1\r\nHost: evil\r\n\r\nGET /x HTTP/1.1"}}}}).dump(),
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;
    EXPECT_EQ(parsed(r)["error"]["code"], "invalid_source_headers");
  }
  {
    ServerProcess worker(dir, {}, {}, {"worker", "--serve-api"});
    auto c = worker.client();
    auto r = c.Post("/run", json({{"id", "a/b"}, {"input", {{"source", dir + "/in.mp4"}}}}).dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;

    // Cancel either wins (CANCELLED, no result) or says it lost (COMPLETED, with the result).
    MediaSpec longer = marked_clip(600);
    write_media(dir + "/long.mp4", longer);
    auto run = c.Post("/run", json({{"input", {{"source", dir + "/long.mp4"}, {"regions", {kRegion}}}}}).dump(),
                      "application/json");
    ASSERT_TRUE(run);
    const std::string id = parsed(run)["id"];
    json status = json::object();
    for (int i = 0; i < 400 && status.value("status", "") != "IN_PROGRESS"; ++i) {
      status = parsed(c.Get(("/status/" + id).c_str()));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto cancel = c.Post(("/cancel/" + id).c_str(), "{}", "application/json");
    ASSERT_TRUE(cancel);
    const std::string said = parsed(cancel)["status"];
    EXPECT_TRUE(said == "CANCELLED" || said == "COMPLETED") << cancel->body;
    const json final_status = parsed(c.Get(("/status/" + id).c_str()));
    EXPECT_EQ(final_status["status"], said);
    EXPECT_EQ(said == "COMPLETED", final_status.contains("output") && final_status["output"].contains("result"))
        << final_status.dump();
  }
  // A video one pixel wide: a plain transcode, or one line of error, never a library's trace.
  MediaSpec thin;
  thin.width = 2;
  thin.height = 64;
  thin.frames = 5;
  write_media(dir + "/thin.mp4", thin);
  ChildProcess cli({UNMARK_BINARY, "remove", dir + "/thin.mp4", "-o", dir + "/thin_out.mp4"}, {}, dir + "/thin.log");
  const int code = cli.wait(60);
  EXPECT_GE(code, 0);
  EXPECT_EQ(cli.log().find("OpenCV"), std::string::npos) << cli.log();
}

// The Range arithmetic itself, on the cases a file server meets.
TEST(Security, ByteRangeMergesOverlapsAndRefusesWhatLiesOutside) {
  using unmark::serve::byte_range;
  using Span = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(byte_range("bytes=0-99", 1000), Span(0, 100));
  EXPECT_EQ(byte_range("bytes=900-", 1000), Span(900, 100));
  EXPECT_EQ(byte_range("bytes=-100", 1000), Span(900, 100));
  EXPECT_EQ(byte_range("bytes=990-2000", 1000), Span(990, 10));
  EXPECT_EQ(byte_range("bytes=0-99,50-149,150-199", 1000), Span(0, 200));  // overlapping and touching
  EXPECT_EQ(byte_range("bytes=0-9,500-509", 1000), Span(0, 0));             // apart: the whole file
  EXPECT_EQ(byte_range("bytes=5-1", 1000), Span(0, 0));                     // malformed: ignored
  EXPECT_EQ(byte_range("items=0-9", 1000), Span(0, 0));
  std::string many = "bytes=0-9";
  for (int i = 0; i < 20; ++i) many += ",0-9";
  EXPECT_EQ(byte_range(many, 1000), Span(0, 0));                            // more than 16 ranges
  EXPECT_FALSE(byte_range("bytes=1000-", 1000));                            // 416
  EXPECT_FALSE(byte_range("bytes=999999999-", 1000));
  EXPECT_FALSE(byte_range("bytes=0-", 0));
}

// A file's colour tags reach libav's enum fields unchecked (a mov 'colr' atom's 16-bit values):
// reading one libav has no value for was undefined behaviour (the demux fuzz target found it;
// the sanitized build checks it here). The probe names it unknown, as a transfer it does not know.
TEST(Security, ColourTagsOutsideTheirRangeAreReadAsUnknown) {
  const std::string dir = unmark::test::temp_dir("security_colr");
  unmark::test::MediaSpec spec;
  spec.frames = 4;
  spec.audio = false;
  spec.bt709 = true;
  spec.video_codec = "mpeg4";  // a bitstream without colour tags of its own: the container's stand
  write_media(dir + "/tagged.mp4", spec);
  std::string bytes = slurp(dir + "/tagged.mp4");
  const size_t colr = bytes.find("colrnclx");
  ASSERT_NE(colr, std::string::npos) << "the muxer wrote no colr atom";
  // nclx: primaries, transfer, matrix (16 bits each, big-endian) after the type.
  bytes[colr + 10] = 0;
  bytes[colr + 11] = 126;  // transfer 126: no such AVColorTransferCharacteristic
  bytes[colr + 12] = 0;
  bytes[colr + 13] = 127;  // matrix 127: no such AVColorSpace
  std::ofstream(dir + "/hostile.mp4", std::ios::binary) << bytes;
  const nlohmann::json probed = unmark::probe_media(dir + "/hostile.mp4");
  ASSERT_FALSE(probed["streams"].empty());
  EXPECT_EQ(probed["streams"][0]["color_transfer"], "unknown");
  EXPECT_EQ(probed["streams"][0]["color_space"], "unknown");
}

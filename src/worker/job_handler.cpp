#include "worker/job_handler.h"

#include <fcntl.h>
#include <stdio.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "serve/job_execution.h"

namespace unmark::worker {

namespace fs = std::filesystem;
using nlohmann::json;
using serve::ApiError;

namespace {

// Fields the service's job model takes as they are (JobRequest's own names).
const std::set<std::string>& passed_through() {
  static const std::set<std::string> names = {
      "job_type", "source_headers", "source_verify_ssl", "s3_prefix", "profile", "detect", "detector", "regions",
      "remover", "remove", "encoder", "crf", "preset", "force_format", "max_bbox_percent", "transcode_config",
      "start", "end", "duration", "scale", "width", "height", "fps", "audio", "metadata"};
  return names;
}

// Fields the old worker named differently, read below.
const std::set<std::string>& translated() {
  static const std::set<std::string> names = {
      "source", "source_url", "source_base64", "source_s3", "source_s3_key", "filename", "output_filename",
      "watermark_config", "watermark_removal_config", "s3Config", "s3_config"};
  return names;
}

std::string string_field(const json& input, const char* key) {
  auto it = input.find(key);
  if (it == input.end() || it->is_null()) return "";
  if (!it->is_string()) throw ApiError(400, "invalid_field", std::string("'") + key + "' must be a string");
  return it->get<std::string>();
}

std::string stem_of(const std::string& name) {
  std::string stem = fs::path(name).stem().string();
  return stem.empty() ? "video" : stem;
}

}  // namespace

serve::JobRequest request_from_input(const json& input, std::vector<std::string>* unknown) {
  if (!input.is_object()) throw ApiError(400, "invalid_input", "the job's input must be a JSON object");
  json body = json::object();
  for (auto& [key, value] : input.items()) {
    if (passed_through().count(key)) body[key] = value;
    else if (!translated().count(key) && unknown) unknown->push_back(key);
  }
  for (const char* key : {"s3Config", "s3_config"})
    if (input.contains(key)) body["s3Config"] = input[key];
  for (const char* key : {"watermark_config", "watermark_removal_config"})
    if (input.contains(key)) body["watermark_removal_config"] = input[key];

  // The source, in the old worker's order of preference.
  std::string source = string_field(input, "source");
  if (source.empty()) source = string_field(input, "source_url");
  if (source.empty())
    if (std::string b64 = string_field(input, "source_base64"); !b64.empty())
      source = b64.rfind("data:", 0) == 0 ? b64 : "base64:" + b64;
  if (source.empty())
    if (auto it = input.find("source_s3"); it != input.end() && !it->is_null()) {
      if (!it->is_object() || !it->contains("bucket") || !it->contains("key") || !(*it)["bucket"].is_string() ||
          !(*it)["key"].is_string())
        throw ApiError(400, "invalid_field", "'source_s3' must be {\"bucket\": \"...\", \"key\": \"...\"}");
      source = "s3://" + (*it)["bucket"].get<std::string>() + "/" + (*it)["key"].get<std::string>();
    }
  if (source.empty())
    if (std::string key = string_field(input, "source_s3_key"); !key.empty()) {
      const json s3 = input.value("s3Config", input.value("s3_config", json::object()));
      if (!s3.is_object() || !s3.contains("bucketName") || !s3["bucketName"].is_string())
        throw ApiError(400, "invalid_field", "'source_s3_key' needs s3Config.bucketName");
      source = "s3://" + s3["bucketName"].get<std::string>() + "/" + key;
    }
  if (source.empty())
    throw ApiError(400, "missing_field",
                   "the input names no source (source, source_url, source_base64, source_s3 or source_s3_key)");
  body["source_uri"] = source;

  // The result's name: output_filename, else the source's name with "_clean".
  std::string name = string_field(input, "output_filename");
  std::string filename = string_field(input, "filename");
  if (name.empty()) {
    std::string from = filename.empty() ? source.substr(0, source.find('?')) : filename;
    if (from.rfind("base64:", 0) == 0 || from.rfind("data:", 0) == 0) from = "video";
    name = stem_of(from) + "_clean";
  }
  body["output_filename"] = fs::path(name).filename().string();
  serve::JobRequest request = serve::parse_job_request(body);
  // The name carries the container the job writes.
  std::string& out = request.output_filename;
  const std::string ext = "." + request.options.container;
  if (fs::path(out).extension().string() != ext) out = fs::path(out).stem().string() + ext;
  return request;
}

namespace {

// Moves `from` into `dir` as `name`, or as "STEM-ID.EXT" (then "STEM-ID-2.EXT", ...) when that
// name is taken; the rename never replaces a file. Returns the path it has now.
std::string keep_result(const std::string& from, const std::string& dir, const std::string& name,
                        const std::string& job_id) {
  const fs::path asked(name);
  for (int n = 0; n < 1000; ++n) {
    std::string candidate = name;
    if (n > 0)
      candidate = asked.stem().string() + "-" + job_id.substr(0, 64) + (n > 1 ? "-" + std::to_string(n) : "") +
                  asked.extension().string();
    const std::string to = dir + "/" + candidate;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return to;
    if (errno != EEXIST)
      throw Error("worker", ErrorKind::output, "cannot keep the result as '" + to + "': " + std::strerror(errno));
  }
  throw Error("worker", ErrorKind::output, "no free name for the result '" + name + "' in " + dir);
}

}  // namespace

JobHandler::JobHandler(HandlerOptions options) : options_(std::move(options)), storage_(options_.storage) {}

JobOutcome JobHandler::run(const std::string& job_id, const json& input, const ProgressFn& progress,
                           const std::atomic<bool>* cancel) const {
  auto log = log_for("worker");
  JobOutcome outcome;
  json stats = {{"job_id", job_id}};
  std::vector<std::string> unknown;
  std::string safe_id = job_id.empty() ? "job" : job_id;  // ids come from outside: a file name only
  for (char& c : safe_id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  const std::string dir = options_.data_dir + "/jobs/" + safe_id;
  try {
    serve::JobRequest request = request_from_input(input, &unknown);
    if (!unknown.empty()) {
      std::string list;
      for (const std::string& k : unknown) list += (list.empty() ? "" : ", ") + k;
      request.warnings.push_back("input fields not used: " + list);
    }
    for (const std::string& w : request.warnings) log->warn("{}", w);
    // The same guards as a REST job: confinement, private addresses, sizes, credentials.
    storage_.check_source(request.source_uri, request.access());
    if (!request.target_uri.empty())
      storage_.check_target(request.target_for(job_id), request.overwrite, request.access());

    serve::JobHooks hooks;
    hooks.on_stage = [&](const std::string& stage) { log->info("stage: {}", stage); };
    hooks.on_progress = progress;
    serve::JobExecution done = serve::execute_job(request, job_id, dir, storage_, "", cancel, hooks);

    std::string result_url = done.result_url;
    const std::string filename = request.output_filename;
    if (done.target.empty()) {
      // No S3: the result stays on this machine, named as asked, or with the job's id added
      // when another job's result has that name (never replaced: each job keeps its result).
      const std::string results = options_.data_dir + "/results";
      fs::create_directories(results);
      result_url = keep_result(done.result_path, results, filename, safe_id);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    stats["report"] = to_json(done.report);
    stats["frames"] = done.report.frames;
    stats["fps"] = done.report.fps;
    stats["seconds"] = done.report.seconds;
    stats["path"] = done.report.path;
    stats["encoder"] = done.report.encoder;
    stats["detector"] = done.report.detector;
    stats["frames_with_marks"] = done.report.frames_with_marks;
    stats["fallbacks"] = done.report.fallbacks;  // every level given up, with why
    outcome.output = {{"status", "success"},
                      {"result", {{"result_url", result_url}, {"filename", filename}, {"target", done.target}}},
                      {"stats", stats},
                      {"warnings", request.warnings}};
    log->info("completed: {} frames in {:.2f} s ({:.1f} fps) -> {}", done.report.frames, done.report.seconds,
              done.report.fps, result_url.substr(0, result_url.find('?')));
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    const auto* err = dynamic_cast<const Error*>(&e);
    const auto* api = dynamic_cast<const ApiError*>(&e);
    outcome.cancelled = err && err->kind() == ErrorKind::cancelled;
    outcome.error = err ? err->line() : api ? std::string("input: ") + api->what() : std::string("internal: ") + e.what();
    if (outcome.cancelled) outcome.error = "cancelled: the job was stopped";
    stats["error_stage"] = err ? err->stage() : api ? "input" : "internal";
    outcome.output = {{"status", "error"}, {"error", outcome.error}, {"stats", stats}};
    log->warn("failed: {}", outcome.error);
  }
  return outcome;
}

}  // namespace unmark::worker

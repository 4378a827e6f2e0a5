// The job model shared by `unmark serve` and `unmark worker`: what a client asks for (JobRequest:
// the old Python worker's fields, kept so its clients work unchanged, plus unmark's own options,
// which are the CLI's `remove` options) and what the service records about a job (Job).
//
//   JobRequest r = parse_job_request(body);          // throws ApiError (400/422) naming the field
//   RemoveJob job = make_remove_job(r.options, in, out);  // the same pipeline the CLI runs
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "serve/storage.h"

namespace unmark::serve {

// A request the API refuses: the HTTP status, a stable machine-readable code and one sentence.
// Mapped to `{"error": {"code", "message"}}` in one place (api.cpp).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

enum class JobStatus { queued, processing, completed, failed, cancelled };
std::string_view to_string(JobStatus status);
std::optional<JobStatus> parse_job_status(std::string_view text);
inline bool is_finished(JobStatus s) {
  return s == JobStatus::completed || s == JobStatus::failed || s == JobStatus::cancelled;
}

// The CLI's `remove` options, as a job carries them.
struct JobOptions {
  std::string detect = "auto";       // auto | static | profile:NAME | regions (--detect)
  std::vector<std::string> regions;  // "x,y,w,h[@start-end]" (--region)
  double max_box_percent = 100;      // marks larger than this share of the frame are ignored
  std::string remover = "auto";      // --remove
  std::string encoder = "auto";      // --encoder
  int crf = EncoderSettings::kDefaultCrf;  // --crf
  std::string preset = "veryfast";   // --preset
  std::string container = "mp4";     // output container: mp4 | mov | mkv (old force_format)
  EditSettings edits;                // start, end, width, height, fps, audio (--start ... --no-audio)
};

struct JobRequest {
  std::string type = "watermark_removal";  // or "transcode" (no detection, no removal)
  std::string source_uri;                  // file path, file://, http(s)://, data:, s3://
  std::string target_uri;                  // optional: where the result is also stored; ending in '/',
                                           // a folder or prefix the result goes into as output_filename
  std::string output_filename;             // the result's name in a target folder (default: ID.EXT)
  nlohmann::json source_headers = nlohmann::json::object();  // extra request headers (http source)
  // The old worker's s3Config (accessId, accessSecret, bucketName, endpointUrl, region,
  // forcePathStyle): credentials and endpoint for s3:// URIs. Never shown back by the API.
  nlohmann::json s3_config = nlohmann::json::object();
  JobOptions options;
  nlohmann::json watermark_removal_config = nlohmann::json::object();  // as the client sent it
  nlohmann::json transcode_config = nlohmann::json::object();          // as the client sent it
  nlohmann::json metadata = nlohmann::json::object();                  // the client's, returned as is
  int priority = 5;        // 1 (lowest) .. 10 (highest)
  bool overwrite = false;  // the target may replace an existing object
  std::vector<std::string> warnings;  // fields accepted but without effect, said back to the client

  bool verify_tls = true;  // source_verify_ssl
  JobAccess access() const { return {source_headers, s3_config, verify_tls}; }
  // Where the result is stored: target_uri, completed with the file name when it is a folder.
  std::string target_for(const std::string& job_id) const;
};

// Validates a request body (the JSON of POST /api/v1/jobs, or an upload's form fields gathered
// into an object). Throws ApiError 400 (not an object, a field of the wrong type) or 422 (a value
// out of range or unknown: job type, detector, remover, encoder, container, region).
// `source_required` is false for uploads, whose source is the uploaded file.
JobRequest parse_job_request(const nlohmann::json& body, bool source_required = true);
nlohmann::json to_json(const JobRequest& request);
// Reads back what to_json wrote (the stored form; trusted, not re-validated).
JobRequest job_request_from_json(const nlohmann::json& stored);

// The pipeline job for these options (what `unmark remove` builds from the same options).
RemoveJob make_remove_job(const JobRequest& request, const std::string& input, const std::string& output);

struct Job {
  std::string id;
  JobRequest request;
  JobStatus status = JobStatus::queued;
  double progress = 0;     // 0..1
  double fps = 0;          // frames per second of the running pipeline
  double eta_seconds = -1; // < 0: unknown
  int64_t frames_done = 0, frames_total = 0;
  std::string stage;       // what it is doing now: queued, fetch, remove, store, done
  std::string error;       // why it failed or was cancelled: "stage: message"
  std::string error_stage;
  std::string source_path;  // local copy of the source (uploads: the uploaded file)
  std::string result_path;  // the result in the data directory
  std::string result_url;   // a stored target's URL (presigned for S3); else the API's download route
  int attempts = 0;         // times a worker took it (a restart mid-job counts one)
  double created_at = 0, started_at = 0, finished_at = 0, updated_at = 0;  // Unix seconds; 0: not yet
  nlohmann::json report = nlohmann::json::object();  // the pipeline's RunReport
};

// The job as the API shows it. `base_url` ("http://host:port") makes result and preview URLs
// absolute.
nlohmann::json to_api_json(const Job& job, const std::string& base_url);

std::string new_job_id();          // 32 random hex digits in UUID form
double unix_now();
std::string iso8601(double unix_seconds);  // "" for 0

}  // namespace unmark::serve

#include "serve/server.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "core/log.h"
#include "detect/profile.h"
#include "gpu/device.h"
#include "io/input_file.h"
#include "io/video_encoder.h"
#include "remove/remover.h"
#include "serve/http_server.h"
#include "serve/job.h"
#include "serve/job_runner.h"
#include "serve/job_store.h"
#include "serve/storage.h"

namespace unmark::serve {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kId = "([0-9a-fA-F-]{8,64})";

// The one place errors become HTTP: status and {"error": {"code", "message"}}.
void error_response(HttpResponse& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.content_type = "application/json";
  res.file.clear();
  res.stream = nullptr;
  res.body = dump_json(json{{"error", {{"code", code}, {"message", message}}}});
}

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage: return 400;
    case ErrorKind::input: return 422;
    case ErrorKind::unsupported: return 422;
    case ErrorKind::cancelled: return 409;
    case ErrorKind::output:
    case ErrorKind::processing:
    case ErrorKind::internal: return 500;
  }
  return 500;
}

void map_exception(std::exception_ptr e, HttpResponse& res) {
  try {
    std::rethrow_exception(e);
  } catch (const ApiError& err) {
    error_response(res, err.status(), err.code(), err.what());
  } catch (const Error& err) {
    error_response(res, status_for(err.kind()), std::string(to_string(err.kind())), err.line());
  } catch (const json::exception& err) {
    error_response(res, 400, "invalid_json", std::string("the body is not valid JSON: ") + err.what());
  } catch (const std::exception& err) {
    log_for("serve")->error("internal error: {}", err.what());
    error_response(res, 500, "internal", std::string("internal error: ") + err.what());
  } catch (...) {
    error_response(res, 500, "internal", "internal error");
  }
}

void json_response(HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.content_type = "application/json";
  res.body = dump_json(body);
}

bool same_token(const std::string& a, const std::string& b) {  // constant time in the content
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string content_type_for(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".mp4") return "video/mp4";
  if (ext == ".mov") return "video/quicktime";
  if (ext == ".mkv") return "video/x-matroska";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

// A file the pipeline could not open as a video is refused when the job is submitted.
void check_is_video(const std::string& path) {
  try {
    InputFile::open(path);
  } catch (const Error& e) {
    // The server's own path is not the client's business: the upload is named as such.
    std::string why = e.what();
    for (size_t at; (at = why.find(path)) != std::string::npos;) why.replace(at, path.size(), "the upload");
    throw ApiError(422, "not_a_video", "the uploaded file is not a video unmark can read (" + why + ")");
  }
}

}  // namespace

struct Server::Impl {
  ServeOptions options;
  std::unique_ptr<JobStore> store;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<JobRunner> runner;
  HttpServer http;
  int port = 0;

  explicit Impl(ServeOptions o)
      : options(std::move(o)), http(HttpServer::Options{64, size_t(options.max_body_bytes), 30}) {}

  std::string base_url(const HttpRequest& req) const {
    std::string host = req.header("Host");
    if (host.empty()) host = options.host + ":" + std::to_string(port);
    std::string proto = req.header("X-Forwarded-Proto");
    return (proto == "https" ? "https://" : "http://") + host;
  }

  Job job_or_404(const std::string& id) {
    auto job = store->get(id);
    if (!job) throw ApiError(404, "job_not_found", "no job with id '" + id + "'");
    return *job;
  }

  void check_queue_room() {
    auto counts = store->count_by_status();
    if (counts[JobStatus::queued] >= options.max_queued)
      throw ApiError(429, "queue_full", "the queue holds " + std::to_string(options.max_queued) +
                                            " jobs already; try again later");
  }

  // Validates a request's source and target, and queues it.
  Job submit(JobRequest request, const std::string& job_id, const std::string& uploaded_path) {
    if (uploaded_path.empty()) {
      storage->check_source(request.source_uri, request.access());
      if (std::string local = storage->local_path(request.source_uri); !local.empty()) check_is_video(local);
    }
    if (!request.target_uri.empty())
      storage->check_target(request.target_for(job_id), request.overwrite, request.access());
    check_queue_room();
    Job job;
    job.id = job_id;
    job.request = std::move(request);
    job.source_path = uploaded_path;
    job.created_at = unix_now();
    store->insert(job);
    runner->wake();
    log_for("serve")->info("job {}: queued ({}, priority {})", job.id, job.request.type, job.request.priority);
    return *store->get(job.id);
  }

  void accepted(const HttpRequest& req, HttpResponse& res, const Job& job) {
    json_response(res, 202, to_api_json(job, base_url(req)));
    res.headers.emplace_back("Location", "/api/v1/jobs/" + job.id);
  }

  void post_job(const HttpRequest& req, HttpResponse& res) {
    json body = parse_json(req.body);  // a parse error maps to 400 invalid_json
    JobRequest request = parse_job_request(body);
    accepted(req, res, submit(std::move(request), new_job_id(), ""));
  }

  void post_upload(const HttpRequest& req, HttpResponse& res) {
    if (!req.multipart)
      throw ApiError(400, "invalid_body", "an upload is multipart/form-data with a 'file' part");
    const std::string id = new_job_id();
    const std::string dir = runner->job_dir(id);
    fs::create_directories(dir);
    json fields = json::object();
    std::string current, upload_path, value;
    std::ofstream out;
    int64_t written = 0;
    bool too_large = false, got_file = false, write_failed = false;
    auto end_part = [&] {
      if (current.empty()) return;
      if (current == "file") out.close();
      else fields[valid_utf8(current)] = valid_utf8(value);  // form fields are bytes: stored as UTF-8
      current.clear();
    };
    bool ok = req.read_multipart(
        [&](const std::string& name, const std::string& filename, const std::string&) {
          end_part();
          current = name;
          value.clear();
          if (name == "file") {
            if (got_file) return false;
            got_file = true;
            std::string ext = fs::path(filename).extension().string();
            if (ext.size() > 8 || ext.find_first_not_of(".abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos)
              ext = "";
            upload_path = dir + "/upload" + ext;
            out.open(upload_path, std::ios::binary);
            return bool(out);
          }
          return true;
        },
        [&](const char* data, size_t size) {
          if (current == "file") {
            written += int64_t(size);
            if (written > options.max_upload_bytes) {
              too_large = true;
              return false;
            }
            out.write(data, std::streamsize(size));
            write_failed = !out;
            return !write_failed;
          }
          if (value.size() + size > 1 << 20) return false;  // a form field is small
          value.append(data, size);
          return true;
        });
    end_part();
    try {
      if (too_large)
        throw ApiError(413, "upload_too_large",
                       "the upload is larger than " + std::to_string(options.max_upload_bytes >> 20) + " MiB");
      if (write_failed) {
        std::error_code ec;
        const auto space = fs::space(dir, ec);
        throw ApiError(507, "storage_full",
                       !ec && space.available < (64u << 20) ? "the server's disk is full; the upload was not stored"
                                                            : "the upload could not be written on the server");
      }
      if (!ok) throw ApiError(400, "invalid_body", "the upload ended early or a form field is too large");
      if (!got_file) throw ApiError(400, "missing_file", "an upload needs a 'file' part with the video");
      if (written == 0) throw ApiError(422, "not_a_video", "the uploaded file is empty");
      check_is_video(upload_path);
      // The old worker's form names: the same fields, objects as JSON text.
      for (const auto& [old_name, name] : {std::pair{"target_filename", "output_filename"},
                                           std::pair{"metadata_json", "metadata"},
                                           std::pair{"watermark_config_json", "watermark_removal_config"},
                                           std::pair{"transcode_config_json", "transcode_config"}})
        if (fields.contains(old_name)) {
          if (!fields.contains(name)) fields[name] = fields[old_name];
          fields.erase(old_name);
        }
      // Form fields are text; nested objects may be sent as JSON text.
      for (const char* key : {"watermark_removal_config", "transcode_config", "s3Config", "metadata", "source_headers",
                              "regions"}) {
        if (fields.contains(key) && fields[key].is_string()) {
          json parsed = parse_json(fields[key].get<std::string>(), false);
          if (parsed.is_discarded() && std::string(key) != "regions")
            throw ApiError(400, "invalid_field", std::string("'") + key + "' must be JSON");
          if (!parsed.is_discarded()) fields[key] = parsed;
        }
      }
      JobRequest request = parse_job_request(fields, false);
      if (request.source_uri.empty()) request.source_uri = "upload:" + fs::path(upload_path).filename().string();
      accepted(req, res, submit(std::move(request), id, upload_path));
    } catch (...) {
      out.close();
      runner->remove_files(id);
      throw;
    }
  }

  void list_jobs(const HttpRequest& req, HttpResponse& res) {
    std::optional<JobStatus> status;
    if (std::string s = req.query_value("status"); !s.empty()) {
      status = parse_job_status(s);
      if (!status) throw ApiError(422, "invalid_status", "status '" + s + "' is not one of queued, processing, completed, failed, cancelled");
    }
    auto number = [&](const char* key, int fallback, int lo, int hi) {
      std::string s = req.query_value(key);
      if (s.empty()) return fallback;
      char* end = nullptr;
      long v = std::strtol(s.c_str(), &end, 10);
      if (*end || v < lo || v > hi)
        throw ApiError(422, "invalid_query", std::string("'") + key + "' must be from " + std::to_string(lo) + " to " + std::to_string(hi));
      return int(v);
    };
    const int limit = number("limit", 50, 1, 500);
    int offset = number("offset", 0, 0, 1 << 30);
    if (std::string page = req.query_value("page"); !page.empty()) offset = (number("page", 1, 1, 1 << 20) - 1) * limit;
    JobPage page = store->list(status, limit, offset);
    json jobs = json::array();
    const std::string base = base_url(req);
    for (const Job& j : page.jobs) jobs.push_back(to_api_json(j, base));
    json_response(res, 200, {{"jobs", jobs}, {"total", page.total}, {"limit", limit}, {"offset", offset}});
  }

  // Waits until the job has left `processing` (the runner stops a cancelled pipeline within a
  // second) or the time is up.
  Job wait_not_processing(const std::string& id, int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    uint64_t seen = store->change_counter();
    for (;;) {
      Job job = job_or_404(id);
      if (job.status != JobStatus::processing || std::chrono::steady_clock::now() >= until) return job;
      seen = store->wait_change(seen, 100);
    }
  }

  void cancel_job(const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.matches.at(1);
    Job job = job_or_404(id);
    if (is_finished(job.status))
      throw ApiError(409, "job_finished", "job '" + id + "' is already " + std::string(to_string(job.status)));
    auto after = store->cancel_if_queued(id, "cancelled by the client");
    if (after == JobStatus::processing) {
      runner->cancel(id);
      job = wait_not_processing(id, 3000);
    } else {
      job = job_or_404(id);
    }
    json_response(res, job.status == JobStatus::processing ? 202 : 200, to_api_json(job, base_url(req)));
  }

  void delete_job(const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.matches.at(1);
    Job job = job_or_404(id);
    if (job.status == JobStatus::queued) store->cancel_if_queued(id, "deleted by the client");
    if (job.status == JobStatus::processing || store->get(id)->status == JobStatus::processing) {
      runner->cancel(id);
      job = wait_not_processing(id, 5000);
      if (job.status == JobStatus::processing)
        throw ApiError(409, "job_busy", "job '" + id + "' did not stop in time; try again");
    }
    runner->remove_files(id);
    store->remove(id);
    log_for("serve")->info("job {}: deleted by the client", id);
    json_response(res, 200, {{"id", id}, {"deleted", true}});
  }

  void get_result(const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.matches.at(1);
    Job job = job_or_404(id);
    if (job.status != JobStatus::completed)
      throw ApiError(409, "job_not_completed", "job '" + id + "' is " + std::string(to_string(job.status)) + ", not completed");
    if (job.result_path.empty() || !fs::exists(job.result_path))
      throw ApiError(404, "result_gone", "job '" + id + "' has no result file any more");
    res.file = job.result_path;
    res.content_type = content_type_for(job.result_path);
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"unmark-" + id.substr(0, 8) +
                                                        fs::path(job.result_path).extension().string() + "\"");
  }

  void get_preview(const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.matches.at(1);
    Job job = job_or_404(id);
    const std::string path = runner->job_dir(id) + "/preview.png";
    if (job.status != JobStatus::completed || !fs::exists(path))
      throw ApiError(404, "no_preview", job.status == JobStatus::completed
                                            ? "job '" + id + "' found no mark, so there is no preview"
                                            : "job '" + id + "' has no preview until it completes");
    res.file = path;
    res.content_type = "image/png";
  }

  void events(const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.matches.at(1);
    job_or_404(id);
    const std::string base = base_url(req);
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    res.stream = [this, id, base](const std::function<bool(const std::string&)>& write) {
      uint64_t seen = 0;
      std::string last;
      auto quiet_since = std::chrono::steady_clock::now();
      for (;;) {
        std::optional<Job> job = store->get(id);
        if (!job) {
          write("event: error\ndata: " + dump_json(json{{"error", {{"code", "job_not_found"}, {"message", "the job was deleted"}}}}) + "\n\n");
          return;
        }
        std::string data = dump_json(to_api_json(*job, base));
        if (data != last) {
          const bool done = is_finished(job->status);
          if (!write(std::string("event: ") + (done ? "done" : "progress") + "\ndata: " + data + "\n\n")) return;
          last = data;
          quiet_since = std::chrono::steady_clock::now();
          if (done) return;
        } else if (std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(15)) {
          if (!write(": keep-alive\n\n")) return;  // proxies close idle streams
          quiet_since = std::chrono::steady_clock::now();
        }
        seen = store->wait_change(seen, 1000);
      }
    };
  }

  // The web page: one self-contained file (web/index.html, built into the binary).
  void index_page(const HttpRequest&, HttpResponse& res) {
    res.content_type = "text/html; charset=utf-8";
    res.headers.emplace_back("Cache-Control", "no-cache");
    res.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
                             "script-src 'unsafe-inline'; connect-src 'self'");
    res.body = web_index_html();
  }

  // What a client may choose, with labels for the web page's menus.
  void job_options(const HttpRequest&, HttpResponse& res) {
    json detectors = json::array({{{"value", "auto"}, {"label", "Automatically"}}});
    for (const std::string& name : builtin_profiles())
      detectors.push_back({{"value", "profile:" + name}, {"label", "Built-in profile: " + name}});
    detectors.push_back({{"value", "static"}, {"label", "A static logo (discover it)"}});
    detectors.push_back({{"value", "regions"}, {"label", "At places I give"}});
    json removers = json::array({{{"value", "auto"}, {"label", "Best for the mark"}}});
    for (const RemoverInfo& r : list_removers()) removers.push_back({{"value", r.name}, {"label", r.name}, {"description", r.description}});
    json encoders = json::array({{{"value", "auto"}, {"label", "Automatic"}}});
    bool ready = false;
    for (const EncoderInfo& e : list_video_encoders()) {
      json item = {{"value", e.name}, {"label", e.name + " (" + e.codec + ")"}, {"disabled", !e.available}};
      if (!e.available) item["label"] = e.name + " (not available here)";
      encoders.push_back(item);
      ready |= e.available && (e.name == "x264" || e.name == "nvenc");
    }
    json_response(res, 200, {{"detectors", detectors},
                             {"removers", removers},
                             {"encoders", encoders},
                             {"containers", {"mp4", "mov", "mkv"}},
                             {"presets", {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}},
                             {"job_types", {"watermark_removal", "transcode"}},
                             {"max_upload_bytes", options.max_upload_bytes},
                             {"ready", ready},
                             {"path", "cpu"},
                             {"version", UNMARK_VERSION}});
  }

  void health(const HttpRequest&, HttpResponse& res) {
    json_response(res, 200, {{"status", "ok"}, {"version", UNMARK_VERSION}});
  }

  void readiness(const HttpRequest&, HttpResponse& res) {
    // The card is queried once: what the doctor's fast checks say, and where jobs run.
    static const json gpu_state = [] {
      gpu::GpuInfo card = gpu::query_gpu();
      json g = {{"present", card.present}, {"path", "cpu"}};
      if (card.present) {
        g["name"] = card.name;
        g["total_bytes"] = card.total_bytes;
        g["tier"] = gpu::tier_for(card.total_bytes).name;
        g["reason"] = "jobs run on the CPU path: the GPU pipeline is not in this build yet";
      } else {
        g["reason"] = card.why_not;
      }
      return g;
    }();
    json encoders = json::array();
    bool any = false;
    for (const EncoderInfo& e : list_video_encoders()) {
      encoders.push_back({{"name", e.name}, {"available", e.available}, {"reason", e.reason}});
      any |= e.available && (e.name == "x264" || e.name == "nvenc");
    }
    json body = {{"ready", any},
                 {"encoders", encoders},
                 {"gpu", gpu_state},
                 {"workers", runner->options().concurrency}};
    if (!any) body["reason"] = "no H.264 encoder (x264 or nvenc) can be opened";
    json_response(res, any ? 200 : 503, body);
  }

  void metrics(const HttpRequest&, HttpResponse& res) {
    auto counts = store->count_by_status();
    RunnerStats s = runner->stats();
    std::ostringstream m;
    m << "# HELP unmark_jobs Jobs in the database by state.\n# TYPE unmark_jobs gauge\n";
    for (auto& [st, n] : counts) m << "unmark_jobs{state=\"" << to_string(st) << "\"} " << n << "\n";
    m << "# HELP unmark_queue_depth Jobs waiting to run.\n# TYPE unmark_queue_depth gauge\n"
      << "unmark_queue_depth " << counts[JobStatus::queued] << "\n";
    m << "# HELP unmark_jobs_running Jobs running in this process.\n# TYPE unmark_jobs_running gauge\n"
      << "unmark_jobs_running " << s.running << "\n";
    m << "# HELP unmark_frames_processed_total Frames encoded by this process's jobs.\n"
         "# TYPE unmark_frames_processed_total counter\n"
      << "unmark_frames_processed_total " << s.frames_processed << "\n";
    m << "# HELP unmark_fps Frames per second of the running jobs together.\n# TYPE unmark_fps gauge\n"
      << "unmark_fps " << s.fps << "\n";
    m << "# HELP unmark_jobs_finished_total Jobs this process finished, by outcome.\n"
         "# TYPE unmark_jobs_finished_total counter\n"
      << "unmark_jobs_finished_total{outcome=\"completed\"} " << s.completed << "\n"
      << "unmark_jobs_finished_total{outcome=\"failed\"} " << s.failed << "\n"
      << "unmark_jobs_finished_total{outcome=\"cancelled\"} " << s.cancelled << "\n";
    m << "# HELP unmark_job_failures_total Failed jobs by the stage that failed.\n"
         "# TYPE unmark_job_failures_total counter\n";
    for (auto& [stage, n] : s.failures_by_stage) m << "unmark_job_failures_total{stage=\"" << stage << "\"} " << n << "\n";
    res.content_type = "text/plain; version=0.0.4";
    res.body = m.str();
  }

  void add_routes() {
    auto bind = [this](void (Impl::*fn)(const HttpRequest&, HttpResponse&)) {
      return [this, fn](const HttpRequest& req, HttpResponse& res) { (this->*fn)(req, res); };
    };
    const std::string job = std::string("/api/v1/jobs/") + kId;
    http.route("GET", "/", bind(&Impl::index_page));
    http.route("GET", "/api/v1/options", bind(&Impl::job_options));
    http.route("GET", "/health", bind(&Impl::health));
    http.route("GET", "/readiness", bind(&Impl::readiness));
    http.route("GET", "/api/v1/health", bind(&Impl::health));  // the old worker's paths
    http.route("GET", "/api/v1/readiness", bind(&Impl::readiness));
    http.route("GET", "/metrics", bind(&Impl::metrics));
    http.route("POST", "/api/v1/jobs", bind(&Impl::post_job));
    http.route("POST", "/api/v1/jobs/watermark-removal", bind(&Impl::post_job));
    http.route("POST", "/api/v1/jobs/upload", bind(&Impl::post_upload), true);
    http.route("GET", "/api/v1/jobs", bind(&Impl::list_jobs));
    http.route("GET", job, [this](const HttpRequest& req, HttpResponse& res) {
      json_response(res, 200, to_api_json(job_or_404(req.matches.at(1)), base_url(req)));
    });
    http.route("POST", job + "/cancel", bind(&Impl::cancel_job));
    http.route("DELETE", job, bind(&Impl::delete_job));
    http.route("GET", job + "/result", bind(&Impl::get_result));
    http.route("GET", job + "/preview.png", bind(&Impl::get_preview));
    http.route("GET", job + "/events", bind(&Impl::events));
    http.set_exception_mapper(map_exception);
    http.set_status_responder([](int status, HttpResponse& res) {
      if (status == 404) error_response(res, 404, "not_found", "no such route");
      else if (status == 413) error_response(res, 413, "body_too_large", "the request body is too large");
      else if (status == 405) error_response(res, 405, "method_not_allowed", "method not allowed here");
      else error_response(res, status, "http_error", "HTTP " + std::to_string(status));
    });
    if (!options.token.empty()) {
      http.set_guard([this](const HttpRequest& req, HttpResponse& res) {
        if (req.path == "/health" || req.path == "/api/v1/health" || req.path == "/")
          return false;  // liveness probes carry no token; the page asks for it
        const std::string auth = req.header("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.rfind(prefix, 0) == 0 && same_token(auth.substr(prefix.size()), options.token)) return false;
        error_response(res, 401, "unauthorized",
                       auth.empty() ? "this server needs 'Authorization: Bearer <token>'" : "the token is not valid");
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        return true;
      });
    }
  }
};

Server::Server(ServeOptions options) {
  if (options.concurrency <= 0) options.concurrency = std::max(1u, std::thread::hardware_concurrency() / 4);
  impl_ = std::make_unique<Impl>(std::move(options));
  const ServeOptions& o = impl_->options;
  std::error_code ec;
  fs::create_directories(fs::path(o.data_dir) / "jobs", ec);
  if (ec) throw Error("serve", ErrorKind::output, "cannot create the data directory '" + o.data_dir + "': " + ec.message());
  impl_->store = std::make_unique<JobStore>((fs::path(o.data_dir) / "jobs.db").string());
  StorageOptions so;
  so.allow_dirs = o.allow_dirs;
  so.allow_private_urls = o.allow_private_urls;
  so.max_download_bytes = o.max_download_bytes;
  so.s3 = o.s3;
  impl_->storage = std::make_unique<Storage>(so);
  RunnerOptions ro;
  ro.data_dir = o.data_dir;
  ro.concurrency = o.concurrency;
  ro.job_timeout_s = o.job_timeout_s;
  ro.max_attempts = o.max_attempts;
  ro.keep_hours = o.keep_hours;
  impl_->runner = std::make_unique<JobRunner>(*impl_->store, *impl_->storage, ro);
  JobStore::Recovery r = impl_->store->recover(o.max_attempts);
  if (r.requeued || r.failed)
    log_for("serve")->warn("recovered jobs left processing by a previous run: {} back in the queue, {} failed "
                           "(retry limit {})", r.requeued, r.failed, o.max_attempts);
  impl_->add_routes();
}

Server::~Server() = default;

int Server::bind() {
  const ServeOptions& o = impl_->options;
  int port = impl_->http.bind(o.host, o.port);
  if (port < 0) throw Error("serve", ErrorKind::usage, "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use?)");
  impl_->port = port;
  return port;
}

void Server::run(const std::atomic<bool>& stop) {
  auto log = log_for("serve");
  const ServeOptions& o = impl_->options;
  impl_->runner->start();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!stop && !done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stop) log->info("stopping: no new jobs; running jobs go back to the queue");
    impl_->http.stop();
  });
  if (!o.port_file.empty()) {
    std::ofstream(o.port_file + ".tmp") << impl_->port << "\n";
    fs::rename(o.port_file + ".tmp", o.port_file);
  }
  log->info("listening on http://{}:{} (data {}, {} worker{}{})", o.host, impl_->port, o.data_dir, o.concurrency,
            o.concurrency == 1 ? "" : "s", o.token.empty() ? ", no token" : ", bearer token required");
  impl_->http.run();
  done = true;
  watcher.join();
  impl_->runner->stop();
}

}  // namespace unmark::serve

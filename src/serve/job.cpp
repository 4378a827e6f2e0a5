#include "serve/job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include "core/error.h"
#include "core/json_text.h"
#include "core/region.h"
#include "detect/profile.h"
#include "io/video_encoder.h"
#include "remove/remover.h"

namespace unmark::serve {

namespace {

using nlohmann::json;

[[noreturn]] void bad_type(const std::string& field, const char* expected) {
  throw ApiError(400, "invalid_field", "'" + field + "' must be " + expected);
}
[[noreturn]] void bad_value(const std::string& field, const std::string& why) {
  throw ApiError(422, "invalid_field", "'" + field + "': " + why);
}

std::string get_string(const json& obj, const std::string& key, const std::string& field, std::string fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) bad_type(field, "a string");
  return it->get<std::string>();
}

double get_number(const json& obj, const std::string& key, const std::string& field, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  // Form fields of an upload arrive as text: "7" is as good as 7.
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v)) bad_type(field, "a number");
    return v;
  }
  if (!it->is_number()) bad_type(field, "a number");
  return it->get<double>();
}

bool get_bool(const json& obj, const std::string& key, const std::string& field, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "0" || s == "no" || s == "off" || s.empty()) return false;
  }
  if (!it->is_boolean()) bad_type(field, "true or false");
  return it->get<bool>();
}

int get_int_in(const json& obj, const std::string& key, const std::string& field, int fallback, int lo, int hi) {
  double v = get_number(obj, key, field, fallback);
  if (v != std::floor(v)) bad_type(field, "a whole number");
  if (v < lo || v > hi)
    bad_value(field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  return int(v);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// The old worker named its detectors after models unmark does not ship; they mean "find it".
std::string detect_mode_from(const std::string& detector, std::vector<std::string>& warnings) {
  const std::string d = lower(detector);
  if (d.empty() || d == "auto" || d == "static" || d == "regions" || d == "none") return d.empty() ? "auto" : d;
  if (d.rfind("profile:", 0) == 0) return detector;
  for (const std::string& name : builtin_profiles())
    if (d == name) return "profile:" + name;
  if (d == "florence" || d == "florence2" || d == "florence-2" || d == "florence_2" || d == "flo" || d == "yolo" ||
      d == "default") {
    warnings.push_back("detector '" + detector + "' is the old worker's model: unmark's auto detection is used");
    return "auto";
  }
  std::string known = "auto, static, regions, none";
  for (const std::string& name : builtin_profiles()) known += ", " + name;
  bad_value("detector", "'" + detector + "' is not known (choose " + known + ")");
}

void check_member(const std::string& field, const std::string& value, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  bad_value(field, "'" + value + "' is not one of " + list);
}

}  // namespace

std::string_view to_string(JobStatus status) {
  switch (status) {
    case JobStatus::queued: return "queued";
    case JobStatus::processing: return "processing";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
    case JobStatus::cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<JobStatus> parse_job_status(std::string_view text) {
  for (JobStatus s : {JobStatus::queued, JobStatus::processing, JobStatus::completed, JobStatus::failed,
                      JobStatus::cancelled})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

// Limits on what a client stores with a job (it comes back in every listing).
constexpr size_t kMaxMetadataBytes = 64 << 10;
constexpr size_t kMaxSourceHeaders = 64;

JobRequest parse_job_request(const json& body, bool source_required) {
  if (!body.is_object()) throw ApiError(400, "invalid_body", "the request body must be a JSON object");
  JobRequest r;
  r.type = get_string(body, "job_type", "job_type", "watermark_removal");
  if (r.type == "watermark-removal") r.type = "watermark_removal";
  // The old worker's re-encode job; its raw ffmpeg arguments stay refused (below).
  if (r.type == "video_processing" || r.type == "video-processing") {
    r.warnings.push_back("job_type '" + r.type + "' is the old worker's name: run as transcode");
    r.type = "transcode";
  }
  if (r.type != "watermark_removal" && r.type != "transcode")
    throw ApiError(422, "invalid_job_type",
                   "job_type '" + r.type + "' is not known (choose watermark_removal or transcode)");
  r.source_uri = get_string(body, "source_uri", "source_uri", "");
  if (r.source_uri.empty()) r.source_uri = get_string(body, "source_url", "source_url", "");  // old alias
  if (source_required && r.source_uri.empty())
    throw ApiError(400, "missing_field", "'source_uri' is required (a path, URL, data: URI or s3://bucket/key)");
  r.target_uri = get_string(body, "target_uri", "target_uri", "");
  if (auto it = body.find("source_headers"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_type("source_headers", "an object of header names to values");
    if (it->size() > kMaxSourceHeaders)
      throw ApiError(422, "invalid_source_headers", "at most " + std::to_string(kMaxSourceHeaders) + " source_headers");
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) bad_type("source_headers." + k, "a string");
      // A header name is a token; a value has no control characters (CR/LF would end the header
      // and start another, or a second request, on the wire).
      const std::string& value = v.get_ref<const std::string&>();
      const bool name_ok = !k.empty() && k.size() <= 256 &&
                           k.find_first_not_of("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
                               std::string::npos;
      const bool value_ok = value.size() <= 8192 && std::none_of(value.begin(), value.end(), [](char c) {
                              return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
                            });
      if (!name_ok || !value_ok)
        throw ApiError(422, "invalid_source_headers",
                       "source_headers: a header name must be a token and a value may not hold control characters");
    }
    r.source_headers = *it;
  }
  if (auto it = body.find("metadata"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_type("metadata", "an object");
    if (dump_json(*it).size() > kMaxMetadataBytes)
      throw ApiError(413, "metadata_too_large",
                     "metadata is limited to " + std::to_string(kMaxMetadataBytes >> 10) + " KiB of JSON");
    r.metadata = *it;
  }
  r.priority = get_int_in(body, "priority", "priority", 5, 1, 10);
  r.output_filename = get_string(body, "output_filename", "output_filename", "");
  r.verify_tls = get_bool(body, "source_verify_ssl", "source_verify_ssl", true);
  if (!r.verify_tls) r.warnings.push_back("source_verify_ssl is false: the source's TLS certificate is not checked");
  if (r.output_filename.find('/') != std::string::npos || r.output_filename == ".." || r.output_filename == ".")
    bad_value("output_filename", "must be a file name, not a path");
  for (const char* key : {"s3Config", "s3_config"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_object()) bad_type(key, "an object");
    for (const char* name : {"accessId", "accessSecret", "bucketName", "endpointUrl", "region"})
      if (auto v = it->find(name); v != it->end() && !v->is_null()) {
        if (!v->is_string()) bad_type(std::string(key) + "." + name, "a string");
        if (!v->get_ref<const std::string&>().empty()) r.s3_config[name] = *v;
      }
    if (auto v = it->find("forcePathStyle"); v != it->end() && !v->is_null())
      r.s3_config["forcePathStyle"] = get_bool(*it, "forcePathStyle", std::string(key) + ".forcePathStyle", false);
    if (r.s3_config.contains("accessId") != r.s3_config.contains("accessSecret"))
      bad_value(key, "accessId and accessSecret go together");
    if (auto e = r.s3_config.find("endpointUrl"); e != r.s3_config.end()) {
      const std::string& url = e->get_ref<const std::string&>();
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        bad_value(std::string(key) + ".endpointUrl", "must be an http(s) URL");
    }
  }
  // The old worker stored every result in s3Config's bucket, under s3_prefix.
  if (r.target_uri.empty() && r.s3_config.contains("bucketName")) {
    std::string prefix = get_string(body, "s3_prefix", "s3_prefix", "");
    while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    r.target_uri = "s3://" + r.s3_config["bucketName"].get<std::string>() + "/" + prefix;
  }

  JobOptions& o = r.options;
  json config = json::object();
  if (auto it = body.find("watermark_removal_config"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_type("watermark_removal_config", "an object");
    config = *it;
  }
  r.watermark_removal_config = config;
  json transcode = json::object();
  if (auto it = body.find("transcode_config"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_type("transcode_config", "an object");
    transcode = *it;
  }
  r.transcode_config = transcode;
  // The old worker passed raw ffmpeg arguments through, which let a client read and write any
  // file on the host. Say so instead of silently ignoring them.
  for (const json* where : std::initializer_list<const json*>{&body, &config, &transcode})
    for (const char* key : {"ffmpeg_args", "ffmpeg_options", "ffmpeg_params", "args", "extra_args", "input_args",
                            "output_args", "command", "filters", "vf", "af"})
      if (where->contains(key))
        throw ApiError(422, "raw_ffmpeg_refused",
                       std::string("'") + key + "': raw ffmpeg arguments are not accepted; use start, end, width, "
                       "height (or scale), fps, audio, crf, preset, encoder and force_format");
  // unmark's own options may sit at the top level or in a config object; a config wins.
  auto pick = [&](const char* key) -> const json& {
    static const json null_value;
    if (auto it = transcode.find(key); it != transcode.end() && !it->is_null()) return *it;
    if (auto it = config.find(key); it != config.end() && !it->is_null()) return *it;
    if (auto it = body.find(key); it != body.end()) return *it;
    return null_value;
  };
  auto str_opt = [&](const char* key, std::string fallback) {
    json holder = json::object();
    if (!pick(key).is_null()) holder[key] = pick(key);
    return get_string(holder, key, key, std::move(fallback));
  };
  auto num_opt = [&](const char* key, double fallback) {
    json holder = json::object();
    if (!pick(key).is_null()) holder[key] = pick(key);
    return get_number(holder, key, key, fallback);
  };

  std::string detector = str_opt("detector", "");
  std::string detect = str_opt("detect", "");
  std::string profile = str_opt("profile", "");
  if (!profile.empty()) o.detect = detect_mode_from("profile:" + profile, r.warnings);
  else if (!detect.empty()) o.detect = detect_mode_from(detect, r.warnings);
  else o.detect = detect_mode_from(detector, r.warnings);
  if (o.detect.rfind("profile:", 0) == 0) {
    // Only built-in profiles: a path would let a client read files on the server.
    std::string name = o.detect.substr(8);
    auto names = builtin_profiles();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      bad_value("profile", "'" + name + "' is not a built-in profile (choose " + list + ")");
    }
  }

  const json& regions = pick("regions");
  if (!regions.is_null()) {
    if (regions.is_string()) {
      o.regions.push_back(regions.get<std::string>());
    } else if (regions.is_array()) {
      for (const json& item : regions) {
        if (!item.is_string()) bad_type("regions", "a list of \"x,y,w,h[@start-end]\" strings");
        o.regions.push_back(item.get<std::string>());
      }
    } else {
      bad_type("regions", "a list of \"x,y,w,h[@start-end]\" strings");
    }
    for (const std::string& text : o.regions) {
      try {
        parse_region(text);
      } catch (const Error& e) {
        bad_value("regions", e.what());
      }
    }
  }
  if (o.detect == "regions" && o.regions.empty()) bad_value("regions", "detector 'regions' needs at least one region");

  o.max_box_percent = num_opt("max_bbox_percent", 100);
  if (!(o.max_box_percent > 0 && o.max_box_percent <= 100)) bad_value("max_bbox_percent", "must be above 0 and at most 100");

  o.remover = lower(str_opt("remover", str_opt("remove", "auto")));
  std::vector<std::string> removers{"auto"};
  for (const RemoverInfo& info : list_removers()) removers.push_back(info.name);
  check_member("remover", o.remover, removers);

  o.encoder = lower(str_opt("encoder", "auto"));
  try {
    validate_encoder_name(o.encoder);
  } catch (const Error& e) {
    bad_value("encoder", e.what());
  }
  json crf_holder = json::object();
  if (!pick("crf").is_null()) crf_holder["crf"] = pick("crf");
  o.crf = get_int_in(crf_holder, "crf", "crf", EncoderSettings::kDefaultCrf, 0, 51);
  o.preset = lower(str_opt("preset", "veryfast"));
  check_member("preset", o.preset,
               {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"});
  std::string format = lower(str_opt("force_format", str_opt("container", "")));
  if (format.empty()) {
    // A target's extension names the container it expects.
    std::string target_ext;
    if (auto dot = r.target_uri.find_last_of('.'); dot != std::string::npos && r.target_uri.find('/', dot) == std::string::npos)
      target_ext = lower(r.target_uri.substr(dot + 1));
    format = (target_ext == "mov" || target_ext == "mkv") ? target_ext : "mp4";
  }
  if (format == "matroska") format = "mkv";
  check_member("force_format", format, {"mp4", "mov", "mkv"});
  o.container = format;
  {
    json holder = json::object();
    if (!pick("overwrite").is_null()) holder["overwrite"] = pick("overwrite");
    r.overwrite = get_bool(holder, "overwrite", "overwrite", false);
  }
  {
    json holder = json::object();
    if (!pick("transparent").is_null()) holder["transparent"] = pick("transparent");
    if (get_bool(holder, "transparent", "transparent", false))
      r.warnings.push_back("transparent applies to images (an alpha channel); a video's mark is removed instead");
  }
  // Transcode operations (any job type may use them).
  EditSettings& e = o.edits;
  e.start = num_opt("start", 0);
  e.end = num_opt("end", -1);
  if (!pick("duration").is_null()) e.end = e.start + num_opt("duration", 0);
  if (std::string scale = str_opt("scale", ""); !scale.empty()) {
    int w = 0, h = 0;
    char x = 0, rest = 0;
    if (std::sscanf(scale.c_str(), "%d%c%d%c", &w, &x, &h, &rest) != 3 || (x != 'x' && x != 'X') || (w <= 0 && h <= 0))
      bad_value("scale", "'" + scale + "' is not WxH (1280x720, or -1 for the side kept in proportion)");
    e.width = std::max(0, w);
    e.height = std::max(0, h);
  }
  if (!pick("width").is_null()) e.width = std::max(0, int(num_opt("width", 0)));
  if (!pick("height").is_null()) e.height = std::max(0, int(num_opt("height", 0)));
  e.fps = num_opt("fps", 0);
  std::string audio = lower(str_opt("audio", "copy"));
  check_member("audio", audio, {"copy", "keep", "drop", "none"});
  e.audio = audio == "copy" || audio == "keep";
  try {
    validate_edits(e);
  } catch (const Error& err) {
    bad_value("transcode_config", err.what());
  }
  if (r.type == "transcode") {
    o.detect = "none";
    o.regions.clear();
  }
  return r;
}

json to_json(const JobRequest& r) {
  const JobOptions& o = r.options;
  return {{"job_type", r.type},
          {"source_uri", r.source_uri},
          {"target_uri", r.target_uri},
          {"source_headers", r.source_headers},
          {"s3_config", r.s3_config},
          {"output_filename", r.output_filename},
          {"verify_tls", r.verify_tls},
          {"watermark_removal_config", r.watermark_removal_config},
          {"transcode_config", r.transcode_config},
          {"metadata", r.metadata},
          {"priority", r.priority},
          {"overwrite", r.overwrite},
          {"warnings", r.warnings},
          {"options",
           {{"detect", o.detect},
            {"regions", o.regions},
            {"max_bbox_percent", o.max_box_percent},
            {"remover", o.remover},
            {"encoder", o.encoder},
            {"crf", o.crf},
            {"preset", o.preset},
            {"container", o.container},
            {"start", o.edits.start},
            {"end", o.edits.end},
            {"width", o.edits.width},
            {"height", o.edits.height},
            {"fps", o.edits.fps},
            {"audio", o.edits.audio ? "copy" : "drop"}}}};
}

JobRequest job_request_from_json(const json& j) {
  JobRequest r;
  r.type = j.value("job_type", r.type);
  r.source_uri = j.value("source_uri", "");
  r.target_uri = j.value("target_uri", "");
  r.source_headers = j.value("source_headers", json::object());
  r.s3_config = j.value("s3_config", json::object());
  r.output_filename = j.value("output_filename", "");
  r.verify_tls = j.value("verify_tls", true);
  r.watermark_removal_config = j.value("watermark_removal_config", json::object());
  r.metadata = j.value("metadata", json::object());
  r.priority = j.value("priority", 5);
  r.overwrite = j.value("overwrite", false);
  r.warnings = j.value("warnings", std::vector<std::string>{});
  const json o = j.value("options", json::object());
  r.options.detect = o.value("detect", r.options.detect);
  r.options.regions = o.value("regions", std::vector<std::string>{});
  r.options.max_box_percent = o.value("max_bbox_percent", 100.0);
  r.options.remover = o.value("remover", r.options.remover);
  r.options.encoder = o.value("encoder", r.options.encoder);
  r.options.crf = o.value("crf", r.options.crf);
  r.options.preset = o.value("preset", r.options.preset);
  r.options.container = o.value("container", r.options.container);
  r.transcode_config = j.value("transcode_config", json::object());
  r.options.edits.start = o.value("start", 0.0);
  r.options.edits.end = o.value("end", -1.0);
  r.options.edits.width = o.value("width", 0);
  r.options.edits.height = o.value("height", 0);
  r.options.edits.fps = o.value("fps", 0.0);
  r.options.edits.audio = o.value("audio", "copy") != "drop";
  return r;
}

std::string JobRequest::target_for(const std::string& job_id) const {
  if (target_uri.empty() || target_uri.back() != '/') return target_uri;
  return target_uri + (output_filename.empty() ? job_id + "." + options.container : output_filename);
}

RemoveJob make_remove_job(const JobRequest& r, const std::string& input, const std::string& output) {
  RemoveJob job;
  job.input = input;
  job.output = output;
  job.detection.mode = r.options.detect;
  for (const std::string& text : r.options.regions) job.detection.regions.push_back(parse_region(text));
  job.detection.max_box_percent = r.options.max_box_percent;
  job.remover = r.options.remover;
  job.encoder.name = r.options.encoder;
  job.encoder.crf = r.options.crf;
  job.encoder.preset = r.options.preset;
  job.edits = r.options.edits;
  return job;
}

json to_api_json(const Job& job, const std::string& base_url) {
  auto time_or_null = [](double t) { return t > 0 ? json(iso8601(t)) : json(nullptr); };
  const std::string self = base_url + "/api/v1/jobs/" + job.id;
  json j = {{"id", job.id},
            {"job_id", job.id},
            {"job_type", job.request.type},
            {"status", to_string(job.status)},
            {"priority", job.request.priority},
            {"source_uri", job.request.source_uri.rfind("data:", 0) == 0 ? "data:..." : job.request.source_uri},
            {"target_uri", job.request.target_uri},
            {"output_filename", job.request.output_filename},
            {"watermark_removal_config", job.request.watermark_removal_config},
            {"transcode_config", job.request.transcode_config},
            {"options", to_json(job.request)["options"]},
            {"metadata", job.request.metadata},
            {"warnings", job.request.warnings},
            {"progress", job.progress},
            {"frames_done", job.frames_done},
            {"frames_total", job.frames_total},
            {"fps", job.fps},
            {"eta_seconds", job.eta_seconds >= 0 ? json(job.eta_seconds) : json(nullptr)},
            {"stage", job.stage},
            {"error", job.error.empty() ? json(nullptr) : json(job.error)},
            {"error_stage", job.error_stage.empty() ? json(nullptr) : json(job.error_stage)},
            {"attempts", job.attempts},
            {"created_at", time_or_null(job.created_at)},
            {"started_at", time_or_null(job.started_at)},
            {"finished_at", time_or_null(job.finished_at)},
            {"updated_at", time_or_null(job.updated_at)},
            {"report", job.report}};
  if (job.status == JobStatus::completed) {
    j["result_url"] = job.result_url.empty() ? self + "/result" : job.result_url;
    j["download_url"] = self + "/result";
    j["preview_url"] = self + "/preview.png";
  } else {
    j["result_url"] = nullptr;
  }
  return j;
}

std::string new_job_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          uint64_t(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint64_t a = rng(), b = rng();
  // UUID version 4 layout, so clients that parse ids as UUIDs keep working.
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32), unsigned((a >> 16) & 0xffff),
                unsigned(a & 0xffff), unsigned(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
  return text;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso8601(double t) {
  if (t <= 0) return "";
  std::time_t secs = std::time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[64];
  int ms = int((t - double(secs)) * 1000);
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return text;
}

}  // namespace unmark::serve

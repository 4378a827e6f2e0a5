// s3://bucket/key sources and targets on any S3-compatible store, through libcurl with SigV4
// signatures (sigv4.cpp). Results larger than one part go up as a multipart upload, so memory
// holds one part at a time; the client gets a presigned GET URL. Transient failures (5xx, a
// dropped connection) are retried per request with a short backoff.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include <curl/curl.h>

#include "core/error.h"
#include "core/json_text.h"
#include "core/log.h"
#include "serve/curl_guard.h"
#include "serve/job.h"
#include "serve/sigv4.h"
#include "serve/storage.h"

namespace unmark::serve {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Where one object lives and how to reach it.
struct S3Place {
  std::string scheme = "https";
  std::string host;       // Host header: "bucket.s3.us-east-1.amazonaws.com" or "127.0.0.1:9000"
  std::string path;       // raw path: "/key" (virtual-hosted) or "/bucket/key" (path style)
  std::string bucket, key;
  std::string region;
  SigV4Key credentials;   // empty access key: anonymous (public buckets, sources only)
  bool job_endpoint = false;  // the endpoint came from the job: held to the private-address rules
  bool path_style = false;
  std::string uri() const { return "s3://" + bucket + "/" + key; }
};

struct S3Response {
  long status = 0;
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  std::string body;  // error bodies and small answers (capped)
  std::string etag;
  std::string refused_address;
  int64_t written = 0;
  bool too_large = false;

  bool ok() const { return curl == CURLE_OK && status >= 200 && status < 300; }
  bool cancelled() const { return curl == CURLE_ABORTED_BY_CALLBACK; }
  bool transient() const { return curl != CURLE_OK ? !cancelled() && !too_large && refused_address.empty() : status >= 500; }

  std::string xml(const std::string& tag) const {
    const std::string open = "<" + tag + ">", close = "</" + tag + ">";
    size_t a = body.find(open);
    if (a == std::string::npos) return "";
    a += open.size();
    size_t b = body.find(close, a);
    // The endpoint's words, bounded and made UTF-8: they end up in the job's error.
    return b == std::string::npos ? "" : valid_utf8(body.substr(a, std::min<size_t>(b - a, 512)));
  }

  // "HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match ..."
  std::string reason() const {
    if (!refused_address.empty()) return "refused to connect to " + refused_address + " (a private address)";
    if (curl != CURLE_OK) return curl_error.empty() ? curl_easy_strerror(curl) : curl_error;
    std::string text = "HTTP " + std::to_string(status);
    if (std::string code = xml("Code"); !code.empty()) text += " " + code;
    if (std::string message = xml("Message"); !message.empty()) text += ": " + message;
    return text;
  }
};

struct Exchange {
  S3Response* response;
  CURL* curl;
  std::FILE* sink = nullptr;  // 2xx bodies go here when set
  int64_t limit = 0;
  ConnectGuard guard;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
  if (x->sink && status >= 200 && status < 300) {
    if (x->response->written + int64_t(n) > x->limit) {
      x->response->too_large = true;
      return 0;
    }
    x->response->written += int64_t(n);
    return std::fwrite(data, 1, n, x->sink);
  }
  if (x->response->body.size() < (64u << 10)) x->response->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  if (line.size() > 5 && strncasecmp(line.c_str(), "etag:", 5) == 0) {
    std::string v = line.substr(5);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    x->response->etag = v;
  }
  return n;
}

class S3Storage : public StorageBackend {
 public:
  explicit S3Storage(const StorageOptions& options) : options_(options) { curl_init_once(); }

  bool handles(const std::string& uri) const override { return uri.rfind("s3://", 0) == 0; }

  void check_source(const std::string& uri, const JobAccess& access) const override {
    S3Place place = resolve(uri, access, false);
    if (place.key.empty() || place.key.back() == '/')
      throw ApiError(422, "invalid_uri", "'" + uri + "' names no object (s3://bucket/key)");
    S3Response r = probe(place);
    if (r.ok()) return;
    if (r.status == 404)
      throw ApiError(404, "source_not_found", place.uri() + " does not exist (" + r.reason() + ")");
    throw_probe_error(place, r);
  }

  void fetch(const std::string& uri, const JobAccess& access, const std::string& dest,
             const std::atomic<bool>* cancel) const override {
    S3Place place = resolve_or_error(uri, access, "fetch", ErrorKind::input, false);
    S3Response r;
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<std::FILE, FileCloser> out(std::fopen(dest.c_str(), "wb"));
      if (!out) throw Error("fetch", ErrorKind::output, "cannot write '" + dest + "'");
      r = perform(place, "GET", {}, nullptr, 0, out.get(), options_.max_download_bytes, cancel);
      if (r.ok() || !r.transient() || attempt == 3) break;
      backoff(attempt);
    }
    if (r.cancelled()) throw Error("fetch", ErrorKind::cancelled, "cancelled");
    if (r.too_large)
      throw Error("fetch", ErrorKind::input, "cannot download " + place.uri() + ": larger than the limit of " +
                                                 std::to_string(options_.max_download_bytes >> 20) + " MiB");
    if (!r.ok()) throw Error("fetch", ErrorKind::input, "cannot download " + place.uri() + ": " + r.reason());
  }

  void check_target(const std::string& uri, bool overwrite, const JobAccess& access) const override {
    S3Place place = resolve(uri, access, true);
    S3Response r = probe(place);
    if (r.ok()) {
      if (!overwrite)
        throw ApiError(409, "target_exists", place.uri() + " exists (set overwrite to replace it)");
      return;
    }
    if (r.status == 404 && r.xml("Code") != "NoSuchBucket") return;  // free to write
    if (r.status == 404)
      throw ApiError(404, "bucket_not_found", "the bucket '" + place.bucket + "' does not exist (" + r.reason() + ")");
    throw_probe_error(place, r);
  }

  std::string store(const std::string& local, const std::string& uri, bool overwrite, const JobAccess& access,
                    const std::atomic<bool>* cancel) const override {
    S3Place place = resolve_or_error(uri, access, "store", ErrorKind::output, true);
    if (place.key.empty() || place.key.back() == '/')
      throw Error("store", ErrorKind::output, "'" + uri + "' names no object (s3://bucket/key)");
    if (!overwrite && probe(place).ok())
      throw Error("store", ErrorKind::output, place.uri() + " exists (set overwrite to replace it)");
    std::error_code ec;
    const int64_t size = int64_t(fs::file_size(local, ec));
    if (ec) throw Error("store", ErrorKind::internal, "cannot read the result '" + local + "': " + ec.message());
    std::unique_ptr<std::FILE, FileCloser> in(std::fopen(local.c_str(), "rb"));
    if (!in) throw Error("store", ErrorKind::internal, "cannot read the result '" + local + "'");
    const int64_t part = std::max<int64_t>(options_.s3.part_bytes, 5 << 20);  // S3's smallest part
    if (size <= part) {
      std::string body = read_bytes(in.get(), size);
      S3Response r = perform_retrying(place, "PUT", {}, body, cancel);
      if (!r.ok()) fail_store(place, r);
    } else {
      upload_in_parts(place, in.get(), size, part, cancel);
    }
    log_for("serve")->info("store: {} ({:.1f} MiB) uploaded to {}", fs::path(local).filename().string(), double(size) / (1 << 20),
              place.uri());
    return presign(place);
  }

 private:
  // --- places ---

  S3Place resolve(const std::string& uri, const JobAccess& access, bool for_target) const {
    const json& job = access.s3;
    S3Place place;
    std::string rest = uri.substr(5);
    size_t slash = rest.find('/');
    place.bucket = rest.substr(0, slash);
    place.key = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (place.bucket.empty()) place.bucket = job.value("bucketName", "");
    if (place.bucket.empty())
      throw ApiError(422, "invalid_uri", "'" + uri + "' names no bucket (s3://bucket/key, or s3Config.bucketName)");

    std::string endpoint = options_.s3.endpoint;
    if (std::string e = job.value("endpointUrl", ""); !e.empty()) {
      endpoint = e;
      place.job_endpoint = true;
    }
    place.region = job.value("region", options_.s3.region);
    if (place.region.empty()) place.region = "us-east-1";
    bool path_style = job.contains("forcePathStyle") ? job.value("forcePathStyle", false)
                      : place.job_endpoint           ? true  // MinIO and most self-hosted stores want it
                                                     : options_.s3.path_style;
    if (std::string id = job.value("accessId", ""); !id.empty()) {
      place.credentials.access_key = id;
      place.credentials.secret_key = job.value("accessSecret", "");
    } else {
      place.credentials = {options_.s3.access_key, options_.s3.secret_key, options_.s3.session_token};
    }
    if (place.credentials.access_key.empty() && for_target)
      throw ApiError(422, "s3_credentials_missing",
                     "no S3 credentials to write " + uri + ": send s3Config {accessId, accessSecret} "
                     "or start the server with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set");

    if (endpoint.empty()) endpoint = "https://s3." + place.region + ".amazonaws.com";
    if (place.job_endpoint) check_public_url(endpoint, options_.allow_private_urls);
    size_t colon = endpoint.find("://");
    if (colon == std::string::npos)
      throw ApiError(422, "invalid_endpoint", "the S3 endpoint '" + endpoint + "' is not an http(s) URL");
    place.scheme = endpoint.substr(0, colon);
    if (place.scheme != "http" && place.scheme != "https")
      throw ApiError(422, "invalid_endpoint", "the S3 endpoint '" + endpoint + "' is not an http(s) URL");
    std::string host = endpoint.substr(colon + 3);
    host = host.substr(0, host.find('/'));
    // Curl sends no port for the scheme's default one; the signed Host header must match.
    if (place.scheme == "https" && host.size() > 4 && host.compare(host.size() - 4, 4, ":443") == 0) host.resize(host.size() - 4);
    if (place.scheme == "http" && host.size() > 3 && host.compare(host.size() - 3, 3, ":80") == 0) host.resize(host.size() - 3);
    // A bucket with dots cannot be a TLS host name label: address it by path.
    if (place.bucket.find('.') != std::string::npos) path_style = true;
    place.path_style = path_style;
    place.host = path_style ? host : place.bucket + "." + host;
    return placed(place);
  }

  static S3Place placed(S3Place place) {
    place.path = place.path_style ? "/" + place.bucket + "/" + place.key : "/" + place.key;
    return place;
  }

  S3Place resolve_or_error(const std::string& uri, const JobAccess& access, const char* stage, ErrorKind kind,
                           bool for_target) const {
    try {
      return resolve(uri, access, for_target);
    } catch (const ApiError& e) {
      throw Error(stage, kind, e.what());
    }
  }

  [[noreturn]] static void throw_probe_error(const S3Place& place, const S3Response& r) {
    if (!r.refused_address.empty())
      throw ApiError(403, "private_url", "the S3 endpoint " + place.host + " " + r.reason());
    if (r.curl != CURLE_OK)
      throw ApiError(422, "s3_unreachable", "cannot reach the S3 endpoint " + place.host + ": " + r.reason());
    if (r.status == 403 || r.status == 401)
      throw ApiError(403, "s3_access_denied",
                     "S3 refused access to " + place.uri() + " (" + r.reason() + "): check the credentials");
    throw ApiError(422, "s3_error", "S3 answered " + r.reason() + " for " + place.uri());
  }

  [[noreturn]] static void fail_store(const S3Place& place, const S3Response& r) {
    if (r.cancelled()) throw Error("store", ErrorKind::cancelled, "cancelled");
    throw Error("store", ErrorKind::output, "cannot upload to " + place.uri() + ": " + r.reason());
  }

  // --- requests ---

  // The first byte of the object: cheap, and unlike HEAD its error answer names the cause.
  S3Response probe(const S3Place& place) const {
    return perform(place, "GET", {}, nullptr, 0, nullptr, 0, nullptr, {{"range", "bytes=0-0"}});
  }

  S3Response perform_retrying(const S3Place& place, const std::string& method,
                              const std::vector<std::pair<std::string, std::string>>& query, const std::string& body,
                              const std::atomic<bool>* cancel) const {
    S3Response r;
    for (int attempt = 1;; ++attempt) {
      r = perform(place, method, query, body.data(), body.size(), nullptr, 0, cancel);
      if (r.ok() || !r.transient() || attempt == 3) return r;
      log_for("serve")->warn("store: {} {} failed ({}), retrying", method, place.uri(), r.reason());
      backoff(attempt);
    }
  }

  static void backoff(int attempt) { std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt)); }

  S3Response perform(const S3Place& place, const std::string& method,
                     const std::vector<std::pair<std::string, std::string>>& query, const char* body, size_t body_size,
                     std::FILE* sink, int64_t limit, const std::atomic<bool>* cancel,
                     const std::map<std::string, std::string>& extra = {}) const {
    S3Response response;
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw std::bad_alloc();
    CURL* c = curl.get();

    SigV4Request request;
    request.method = method;
    request.host = place.host;
    request.path = place.path;
    request.query = query;
    request.headers = extra;
    request.region = place.region;
    request.payload_sha256 = sha256_hex(body ? body : "", body_size);
    std::map<std::string, std::string> headers = extra;
    if (!place.credentials.access_key.empty()) headers = sigv4_sign(request, place.credentials, std::time(nullptr));
    headers["host"] = place.host;

    std::string url = place.scheme + "://" + place.host + uri_encode(place.path, true);
    std::string q;
    for (const auto& [name, value] : query) q += (q.empty() ? "?" : "&") + uri_encode(name, false) + "=" + uri_encode(value, false);
    url += q;

    curl_slist* list = nullptr;
    for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip before each part
    if (body) list = curl_slist_append(list, "Content-Type: application/octet-stream");
    std::unique_ptr<curl_slist, SlistDeleter> header_list(list);

    Exchange x{&response, c, sink, limit, {}};
    x.guard.allow_private = !place.job_endpoint || options_.allow_private_urls;
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    set_transfer_options(c, options_.connect_timeout_s, options_.transfer_timeout_s, error, cancel);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body_size));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    install_connect_guard(c, &x.guard);
    response.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    response.curl_error = error;
    response.refused_address = x.guard.refused_address;
    // CompleteMultipartUpload may answer 200 with an error in its body.
    if (response.ok() && method == "POST" && response.body.find("<Error>") != std::string::npos) response.status = 500;
    return response;
  }

  static std::string read_bytes(std::FILE* in, int64_t size) {
    std::string data(size_t(size), '\0');
    if (size > 0 && std::fread(data.data(), 1, data.size(), in) != data.size())
      throw Error("store", ErrorKind::internal, "cannot read the result");
    return data;
  }

  void upload_in_parts(const S3Place& place, std::FILE* in, int64_t size, int64_t part,
                       const std::atomic<bool>* cancel) const {
    S3Response r = perform_retrying(place, "POST", {{"uploads", ""}}, "", cancel);
    const std::string upload_id = r.xml("UploadId");
    if (!r.ok() || upload_id.empty()) fail_store(place, r);
    std::string complete = "<CompleteMultipartUpload>";
    try {
      int number = 1;
      for (int64_t offset = 0; offset < size; offset += part, ++number) {
        std::string bytes = read_bytes(in, std::min(part, size - offset));
        r = perform_retrying(place, "PUT", {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}}, bytes,
                             cancel);
        if (!r.ok() || r.etag.empty()) fail_store(place, r);
        complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + r.etag + "</ETag></Part>";
      }
      complete += "</CompleteMultipartUpload>";
      r = perform_retrying(place, "POST", {{"uploadId", upload_id}}, complete, cancel);
      if (!r.ok()) fail_store(place, r);
    } catch (...) {
      // Parts of an unfinished upload are billed until aborted.
      perform(place, "DELETE", {{"uploadId", upload_id}}, nullptr, 0, nullptr, 0, nullptr);
      throw;
    }
  }

  std::string presign(const S3Place& place) const {
    SigV4Request request;
    request.host = place.host;
    request.path = place.path;
    request.region = place.region;
    const std::string base = place.scheme + "://" + place.host + uri_encode(place.path, true);
    if (place.credentials.access_key.empty()) return base;
    return base + "?" + sigv4_presign_query(request, place.credentials, std::time(nullptr), options_.s3.presign_ttl_s);
  }

  StorageOptions options_;
};

}  // namespace

S3Options s3_options_from_environment() {
  S3Options o;
  o.access_key = env("AWS_ACCESS_KEY_ID");
  o.secret_key = env("AWS_SECRET_ACCESS_KEY");
  o.session_token = env("AWS_SESSION_TOKEN");
  if (std::string r = env("AWS_REGION"); !r.empty()) o.region = r;
  else if (std::string d = env("AWS_DEFAULT_REGION"); !d.empty()) o.region = d;
  for (const char* name : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT_URL"})
    if (std::string e = env(name); !e.empty()) {
      o.endpoint = e;
      o.path_style = true;
      break;
    }
  if (std::string p = env("S3_FORCE_PATH_STYLE"); !p.empty()) o.path_style = p == "1" || p == "true";
  return o;
}

std::unique_ptr<StorageBackend> make_s3_storage(const StorageOptions& options) {
  return std::make_unique<S3Storage>(options);
}

}  // namespace unmark::serve

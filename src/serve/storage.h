// Where a job's source comes from and its result goes: one interface, a back-end per kind of URI.
//
//   file:///abs/path or /abs/path   local files, confined to the --allow-dir roots (symlinks and
//                                   ".." are resolved before the check, so neither escapes)
//   http:// https://                downloads (libcurl): size limit, timeouts, a redirect limit,
//                                   streamed to disk; loopback, link-local and private addresses
//                                   refused unless allowed (checked on every connection, so a
//                                   redirect or a DNS answer cannot lead there either)
//   data:[type];base64,... base64:  small inputs inline
//   s3://bucket/key                 any S3-compatible store (AWS, MinIO, R2), SigV4-signed; results
//                                   uploaded in parts when large, handed out as presigned GET URLs;
//                                   s3://bucket/prefix/ stores under the result's own file name
//
// Submit-time checks (check_source, check_target) are cheap and answer the client at once with
// an ApiError; fetch and store run in the job and throw Error{input|output} with the reason.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace unmark::serve {

// Where S3 requests go and with which key, unless a job brings its own (the old s3Config).
struct S3Options {
  std::string endpoint;        // "http(s)://host[:port]"; empty: AWS (https://s3.REGION.amazonaws.com)
  std::string region = "us-east-1";
  bool path_style = false;     // endpoint/bucket/key instead of bucket.endpoint/key (MinIO wants it)
  std::string access_key, secret_key, session_token;
  int presign_ttl_s = 86400;   // lifetime of a result's presigned URL (S3 allows up to 7 days)
  int64_t part_bytes = int64_t(16) << 20;  // results above this are uploaded in parts of this size
};

// From the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
// (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL, S3_ENDPOINT_URL),
// S3_FORCE_PATH_STYLE.
S3Options s3_options_from_environment();

// What one job brings to reach its source and target.
struct JobAccess {
  nlohmann::json headers = nlohmann::json::object();  // extra request headers for an http(s) source
  // The old worker's s3Config: accessId, accessSecret, bucketName, endpointUrl, region,
  // forcePathStyle (validated by parse_job_request). A job's own endpoint is held to the same
  // address rules as an http(s) source.
  nlohmann::json s3 = nlohmann::json::object();
  bool verify_tls = true;  // false: an https source's certificate is not checked (old source_verify_ssl)
};

struct StorageOptions {
  std::vector<std::string> allow_dirs;       // roots for file sources and targets; none: files refused
  bool allow_private_urls = false;           // let http(s) reach loopback/private/link-local hosts
  int64_t max_download_bytes = int64_t(4) << 30;
  int64_t max_inline_bytes = int64_t(64) << 20;  // data:/base64 sources, decoded
  int connect_timeout_s = 15;
  int transfer_timeout_s = 1800;
  int max_redirects = 5;
  S3Options s3;
};

class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  // Whether this back-end takes `uri` (by its scheme).
  virtual bool handles(const std::string& uri) const = 0;
  // Cheap checks when a job is submitted. Throws ApiError (403 refused, 404 missing, 422 invalid).
  virtual void check_source(const std::string& uri, const JobAccess& access) const = 0;
  // A local file the pipeline can read in place, or "" when fetch must copy it first.
  virtual std::string local_path(const std::string& uri) const { (void)uri; return ""; }
  // Copies the source to the local file `dest`. Stops with Error{cancelled} when `cancel` is set.
  // Throws Error{input} naming the reason.
  virtual void fetch(const std::string& uri, const JobAccess& access, const std::string& dest,
                     const std::atomic<bool>* cancel) const = 0;
  // Targets: back-ends that cannot store throw ApiError 422 from check_target.
  virtual void check_target(const std::string& uri, bool overwrite, const JobAccess& access) const;
  // Stores `local` at `uri` and returns the URL a client downloads it from ("" when the service's
  // own download route is the way). Throws Error{output}.
  virtual std::string store(const std::string& local, const std::string& uri, bool overwrite,
                            const JobAccess& access, const std::atomic<bool>* cancel) const;
};

class Storage {
 public:
  explicit Storage(StorageOptions options);
  ~Storage();

  void check_source(const std::string& uri, const JobAccess& access = {}) const;
  void check_target(const std::string& uri, bool overwrite, const JobAccess& access = {}) const;
  std::string local_path(const std::string& uri) const;
  void fetch(const std::string& uri, const JobAccess& access, const std::string& dest,
             const std::atomic<bool>* cancel) const;
  std::string store(const std::string& local, const std::string& uri, bool overwrite, const JobAccess& access = {},
                    const std::atomic<bool>* cancel = nullptr) const;

  const StorageOptions& options() const { return options_; }

 private:
  const StorageBackend& backend_for(const std::string& uri) const;  // throws ApiError 422
  StorageOptions options_;
  std::vector<std::unique_ptr<StorageBackend>> backends_;
};

// Back-end factories (each in its own file).
std::unique_ptr<StorageBackend> make_file_storage(const StorageOptions& options);
std::unique_ptr<StorageBackend> make_inline_storage(const StorageOptions& options);
std::unique_ptr<StorageBackend> make_http_storage(const StorageOptions& options);
std::unique_ptr<StorageBackend> make_s3_storage(const StorageOptions& options);

// Submit-time check of a URL's host: ApiError 422 when it is not a URL, 403 when the host is, or
// resolves to, a private address (unless `allow_private`).
void check_public_url(const std::string& url, bool allow_private);

// Whether a numeric address is one a public URL must not reach: loopback, private (10/8,
// 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the cloud metadata service,
// fe80::/10), carrier-grade NAT, unspecified, multicast, broadcast. `text` is an IPv4 or IPv6
// literal; anything else is not an address (false).
bool is_private_address(const std::string& text);

// Decodes base64 (standard or URL alphabet, padding optional, whitespace skipped). Throws
// ApiError 422 on a bad character.
std::string decode_base64(const std::string& text);

}  // namespace unmark::serve

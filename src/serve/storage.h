// Where a job's source comes from and its result goes: one interface, a back-end per kind of URI.
//
//   file:///abs/path or /abs/path   local files, confined to the --allow-dir roots (symlinks and
//                                   ".." are resolved before the check, so neither escapes)
//   http:// https://                downloads (libcurl): size limit, timeouts, a redirect limit,
//                                   streamed to disk; loopback, link-local and private addresses
//                                   refused unless allowed (checked on every connection, so a
//                                   redirect or a DNS answer cannot lead there either)
//   data:[type];base64,... base64:  small inputs inline
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

struct StorageOptions {
  std::vector<std::string> allow_dirs;       // roots for file sources and targets; none: files refused
  bool allow_private_urls = false;           // let http(s) reach loopback/private/link-local hosts
  int64_t max_download_bytes = int64_t(4) << 30;
  int64_t max_inline_bytes = int64_t(64) << 20;  // data:/base64 sources, decoded
  int connect_timeout_s = 15;
  int transfer_timeout_s = 1800;
  int max_redirects = 5;
};

class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  // Whether this back-end takes `uri` (by its scheme).
  virtual bool handles(const std::string& uri) const = 0;
  // Cheap checks when a job is submitted. Throws ApiError (403 refused, 404 missing, 422 invalid).
  virtual void check_source(const std::string& uri) const = 0;
  // A local file the pipeline can read in place, or "" when fetch must copy it first.
  virtual std::string local_path(const std::string& uri) const { (void)uri; return ""; }
  // Copies the source to the local file `dest`. `headers`: extra request headers (object).
  // Stops with Error{cancelled} when `cancel` is set. Throws Error{input} naming the reason.
  virtual void fetch(const std::string& uri, const nlohmann::json& headers, const std::string& dest,
                     const std::atomic<bool>* cancel) const = 0;
  // Targets: back-ends that cannot store throw ApiError 422 from check_target.
  virtual void check_target(const std::string& uri, bool overwrite) const;
  // Stores `local` at `uri` and returns the URL a client downloads it from ("" when the service's
  // own download route is the way). Throws Error{output}.
  virtual std::string store(const std::string& local, const std::string& uri, bool overwrite) const;
};

class Storage {
 public:
  explicit Storage(StorageOptions options);
  ~Storage();

  void check_source(const std::string& uri) const;
  void check_target(const std::string& uri, bool overwrite) const;
  std::string local_path(const std::string& uri) const;
  void fetch(const std::string& uri, const nlohmann::json& headers, const std::string& dest,
             const std::atomic<bool>* cancel) const;
  std::string store(const std::string& local, const std::string& uri, bool overwrite) const;

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

// Whether a numeric address is one a public URL must not reach: loopback, private (10/8,
// 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the cloud metadata service,
// fe80::/10), carrier-grade NAT, unspecified, multicast, broadcast. `text` is an IPv4 or IPv6
// literal; anything else is not an address (false).
bool is_private_address(const std::string& text);

// Decodes base64 (standard or URL alphabet, padding optional, whitespace skipped). Throws
// ApiError 422 on a bad character.
std::string decode_base64(const std::string& text);

}  // namespace unmark::serve

// http(s) sources through libcurl. The service must not become a proxy into its own network, so
// every connection's address is checked as curl opens the socket (after DNS, on every redirect);
// a submit-time check of the host's addresses answers the client early.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include <curl/curl.h>

#include "core/error.h"
#include "serve/curl_guard.h"
#include "serve/job.h"
#include "serve/storage.h"

namespace unmark::serve {

namespace {

std::string address_text(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  return text;
}

struct Transfer {
  std::FILE* out = nullptr;
  int64_t written = 0, limit = 0;
  bool too_large = false;
  ConnectGuard guard;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->written + int64_t(n) > t->limit) {
    t->too_large = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  t->written += int64_t(n);
  return std::fwrite(data, 1, n, t->out);
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort && abort->load() ? 1 : 0;
}

curl_socket_t on_open_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* guard = static_cast<ConnectGuard*>(user);
  const std::string text = address_text(&address->addr);
  if (!guard->allow_private && is_private_address(text)) {
    guard->refused_address = text;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

class HttpStorage : public StorageBackend {
 public:
  explicit HttpStorage(const StorageOptions& options) : options_(options) { curl_init_once(); }

  bool handles(const std::string& uri) const override {
    return uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0;
  }

  void check_source(const std::string& uri, const JobAccess&) const override {
    check_public_url(uri, options_.allow_private_urls);
  }

  void fetch(const std::string& uri, const JobAccess& access, const std::string& dest,
             const std::atomic<bool>* cancel) const override {
    const nlohmann::json& headers = access.headers;
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw std::bad_alloc();
    std::unique_ptr<std::FILE, FileCloser> out(std::fopen(dest.c_str(), "wb"));
    if (!out) throw Error("fetch", ErrorKind::output, "cannot write '" + dest + "'");
    Transfer t;
    t.out = out.get();
    t.limit = options_.max_download_bytes;
    t.guard.allow_private = options_.allow_private_urls;
    curl_slist* list = nullptr;
    for (auto& [name, value] : headers.items())
      list = curl_slist_append(list, (name + ": " + value.get<std::string>()).c_str());
    std::unique_ptr<curl_slist, SlistDeleter> header_list(list);
    char error[CURL_ERROR_SIZE] = "";
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, uri.c_str());
    set_transfer_options(c, options_.connect_timeout_s, options_.transfer_timeout_s, error, cancel);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, long(options_.max_redirects));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options_.max_download_bytes));
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    install_connect_guard(c, &t.guard);
    if (!access.verify_tls) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    out.reset();
    if (rc == CURLE_OK) return;
    if (rc == CURLE_ABORTED_BY_CALLBACK) throw Error("fetch", ErrorKind::cancelled, "cancelled");
    std::string why;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (!t.guard.refused_address.empty())
      why = "refused to connect to " + t.guard.refused_address + " (a private address)";
    else if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
      why = "larger than the limit of " + std::to_string(options_.max_download_bytes >> 20) + " MiB";
    else if (rc == CURLE_HTTP_RETURNED_ERROR)
      why = "the server answered HTTP " + std::to_string(status);
    else if (rc == CURLE_TOO_MANY_REDIRECTS)
      why = "more than " + std::to_string(options_.max_redirects) + " redirects";
    else
      why = error[0] ? error : curl_easy_strerror(rc);
    throw Error("fetch", ErrorKind::input, "cannot download '" + uri + "': " + why);
  }

 private:
  StorageOptions options_;
};

}  // namespace

void install_connect_guard(CURL* curl, ConnectGuard* guard) {
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, guard);
}

void set_transfer_options(CURL* c, long connect_timeout_s, long timeout_s, char* error,
                          const std::atomic<bool>* abort) {
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "unmark/" UNMARK_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(abort));
}

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void check_public_url(const std::string& uri, bool allow_private) {
  std::unique_ptr<CURLU, CurlUrlDeleter> url(curl_url());
  if (!url || curl_url_set(url.get(), CURLUPART_URL, uri.c_str(), 0) != CURLUE_OK)
    throw ApiError(422, "invalid_url", "'" + uri + "' is not a valid URL");
  char* host_raw = nullptr;
  if (curl_url_get(url.get(), CURLUPART_HOST, &host_raw, 0) != CURLUE_OK || !host_raw)
    throw ApiError(422, "invalid_url", "'" + uri + "' has no host");
  std::string host = host_raw;
  curl_free(host_raw);
  if (allow_private) return;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (is_private_address(host) || host == "localhost")
    throw ApiError(403, "private_url", "'" + host + "' is a loopback, private or link-local address; "
                                       "this server does not fetch from its own network");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0)
    return;  // unresolvable now: the job fails with curl's reason, which says it better
  std::string refused;
  for (addrinfo* a = found; a; a = a->ai_next)
    if (is_private_address(address_text(a->ai_addr))) refused = address_text(a->ai_addr);
  freeaddrinfo(found);
  if (!refused.empty())
    throw ApiError(403, "private_url", "'" + host + "' resolves to " + refused +
                                       ", a private address; this server does not fetch from its own network");
}

std::unique_ptr<StorageBackend> make_http_storage(const StorageOptions& options) {
  return std::make_unique<HttpStorage>(options);
}

}  // namespace unmark::serve

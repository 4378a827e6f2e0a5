// Shared by the code that talks HTTP through libcurl (http_storage, s3_storage, http_client): RAII
// owners of curl's handles, and the connection guard: every connection's address is checked as
// curl opens the socket, after DNS and on every redirect, so neither a redirect nor a DNS answer
// leads a job into the server's own network.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include <curl/curl.h>

namespace unmark::serve {

// Owners for curl's handles and the files transfers write.
struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

struct ConnectGuard {
  bool allow_private = false;
  std::string refused_address;  // set when a connection was refused
};

// Makes `curl` open its sockets through the guard (`guard` must outlive the transfer).
void install_connect_guard(CURL* curl, ConnectGuard* guard);

// The options every transfer here shares: http(s) only, the timeouts, no signals (the transfers
// run on worker threads), the user agent, the error text into `error` (CURL_ERROR_SIZE bytes),
// and `abort` (may be null) ending the transfer within a progress tick as
// CURLE_ABORTED_BY_CALLBACK.
void set_transfer_options(CURL* curl, long connect_timeout_s, long timeout_s, char* error,
                          const std::atomic<bool>* abort);

// curl_global_init, once per process.
void curl_init_once();

}  // namespace unmark::serve

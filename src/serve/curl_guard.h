// Shared by the back-ends that talk HTTP through libcurl (http_storage.cpp, s3_storage.cpp): every
// connection's address is checked as curl opens the socket, after DNS and on every redirect, so
// neither a redirect nor a DNS answer leads a job into the server's own network.
#pragma once

#include <string>

#include <curl/curl.h>

namespace unmark::serve {

struct ConnectGuard {
  bool allow_private = false;
  std::string refused_address;  // set when a connection was refused
};

// Makes `curl` open its sockets through the guard (`guard` must outlive the transfer).
void install_connect_guard(CURL* curl, ConnectGuard* guard);

// curl_global_init, once per process.
void curl_init_once();

}  // namespace unmark::serve

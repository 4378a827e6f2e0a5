// `unmark serve`: the REST job API over the durable queue, the runner and the storage back-ends.
//
//   ServeOptions o;  o.data_dir = "/var/lib/unmark";  o.port = 8080;
//   Server server(o);           // opens the database, recovers jobs left by a crash
//   int port = server.bind();   // throws Error{usage} when the address is taken
//   server.run(stop_flag);      // until the flag is set (SIGTERM): running jobs go back to the queue
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "serve/storage.h"

namespace unmark::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0: any free port
  std::string port_file;                    // written with the bound port once listening
  std::string data_dir = "unmark-data";     // jobs.db, jobs/<id>/ (uploads, results, previews)
  std::string token;                        // bearer token every route but /health needs; "" none
  int concurrency = 0;                      // 0: from the cores
  double job_timeout_s = 0;                 // 0: none
  int max_attempts = 3;
  double keep_hours = 24;
  int64_t max_upload_bytes = int64_t(2) << 30;
  int64_t max_body_bytes = int64_t(1) << 20;  // JSON bodies (a data: source counts: see below)
  int max_queued = 1000;                      // queued jobs beyond which a submit gets 429
  std::vector<std::string> allow_dirs;
  bool allow_private_urls = false;
  int64_t max_download_bytes = int64_t(4) << 30;
  S3Options s3;  // the server's S3 endpoint and key (from the environment); a job's s3Config wins
};

// The web page served at / (src/serve/web/index.html, built in).
const std::string& web_index_html();

class Server {
 public:
  explicit Server(ServeOptions options);
  ~Server();
  int bind();
  // Serves until `*stop` becomes true (set it from a signal handler), then stops taking jobs,
  // puts running jobs back in the queue and returns.
  void run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unmark::serve

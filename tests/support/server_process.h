// `unmark serve` or `unmark worker --serve-api` as a child process on 127.0.0.1 with an ephemeral
// port, for end-to-end tests over HTTP (a client from httplib, or raw bytes on a socket).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include "support/process.h"

namespace unmark::test {

std::string slurp(const std::string& path);
std::string base64_encode(const std::string& bytes);

class ServerProcess {
 public:
  // `command`: {"serve"} or {"worker", "--serve-api"}; the port, port file, data directory
  // (DIR/data) and --allow-dir DIR are added. Killed (SIGKILL) by the destructor unless stopped.
  ServerProcess(const std::string& dir, std::vector<std::string> extra = {},
                std::vector<std::pair<std::string, std::string>> env = {},
                std::vector<std::string> command = {"serve"});
  ~ServerProcess();

  void start(std::vector<std::string> extra);
  void kill_now();  // SIGKILL and reap
  int terminate();  // SIGTERM; the exit code
  pid_t pid() const;

  httplib::Client client(const std::string& token = "") const;
  std::string log() const;
  int port() const { return port_; }

  // Sends `request` as is on a fresh connection and returns what comes back first.
  std::string raw(const std::string& request) const;

 private:
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::vector<std::string> command_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// A connected TCP socket to 127.0.0.1:port, closed by the destructor.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Sends all of `bytes`; false once the peer stopped taking them.
  bool send(const std::string& bytes);
  // What arrives until the peer closes or `seconds` pass with nothing new; "<closed>" is
  // appended when the peer closed the connection.
  std::string read_all(double seconds);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace unmark::test

#include "support/server_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace unmark::test {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string base64_encode(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(table[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(table[(acc << (6 - bits)) & 63]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

ServerProcess::ServerProcess(const std::string& dir, std::vector<std::string> extra,
                             std::vector<std::pair<std::string, std::string>> env, std::vector<std::string> command)
    : dir_(dir), env_(std::move(env)), command_(std::move(command)) {
  signal(SIGPIPE, SIG_IGN);  // a server that refuses a body early closes the socket mid-send
  start(std::move(extra));
}

ServerProcess::~ServerProcess() { kill_now(); }

void ServerProcess::start(std::vector<std::string> extra) {
  fs::remove(dir_ + "/port");
  std::vector<std::string> args = {UNMARK_BINARY};
  args.insert(args.end(), command_.begin(), command_.end());
  for (const char* a : {"--port", "0", "--port-file"}) args.emplace_back(a);
  args.push_back(dir_ + "/port");
  for (std::string a : {std::string("--data"), dir_ + "/data", std::string("--allow-dir"), dir_}) args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<ChildProcess>(args, env_, dir_ + "/serve.log");
  for (int i = 0; i < 200 && slurp(dir_ + "/port").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string port = slurp(dir_ + "/port");
  port_ = port.empty() ? 0 : std::stoi(port);
}

void ServerProcess::kill_now() { process_.reset(); }

int ServerProcess::terminate() {
  process_->signal(SIGTERM);
  int code = process_->wait(120);
  process_.reset();
  return code;
}

pid_t ServerProcess::pid() const { return process_ ? process_->pid() : -1; }

httplib::Client ServerProcess::client(const std::string& token) const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(60, 0);
  if (!token.empty()) c.set_bearer_token_auth(token.c_str());
  return c;
}

std::string ServerProcess::log() const { return slurp(dir_ + "/serve.log"); }

std::string ServerProcess::raw(const std::string& request) const {
  RawConnection c(port_);
  if (!c.send(request)) return "";
  pollfd p{c.fd(), POLLIN, 0};
  if (poll(&p, 1, 60000) <= 0) return "";
  char buffer[4096];
  ssize_t n = recv(c.fd(), buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, size_t(n)) : "";
}

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  size_t done = 0;
  while (fd_ >= 0 && done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += size_t(n);
  }
  return fd_ >= 0;
}

std::string RawConnection::read_all(double seconds) {
  std::string out;
  char buffer[65536];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, int(seconds * 1000)) <= 0) return out;
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return out + "<closed>";
    out.append(buffer, size_t(n));
  }
}

}  // namespace unmark::test

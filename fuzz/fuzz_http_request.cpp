// Raw bytes as an HTTP request to the server layer (serve/http_server: cpp-httplib's parsing
// under this project's connections), on loopback: request line, headers, Content-Length and
// chunked bodies, multipart uploads read as a stream, Range on a file, a JSON body. Each input
// also goes to byte_range directly, whose answer must lie inside the file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/json_text.h"
#include "serve/http_server.h"

namespace {

using unmark::serve::HttpRequest;
using unmark::serve::HttpResponse;
using unmark::serve::HttpServer;

constexpr uint64_t kFileSize = 4096;

// One server for the whole run, on a free port.
int server_port() {
  static int port = [] {
    const std::string file = (std::filesystem::temp_directory_path() / ("unmark-fuzz-" + std::to_string(getpid()))).string();
    std::ofstream(file, std::ios::binary) << std::string(kFileSize, 'f');
    auto* server = new HttpServer(HttpServer::Options{});
    server->route("POST", "/upload", [](const HttpRequest& req, HttpResponse& res) {
      size_t parts = 0, bytes = 0;
      if (req.multipart)
        req.read_multipart([&](const std::string&, const std::string&, const std::string&) { return ++parts < 64; },
                           [&](const char*, size_t n) { return (bytes += n) < (8u << 20); });
      res.body = "{\"parts\":" + std::to_string(parts) + "}";
    }, true);
    server->route("POST", "/json", [](const HttpRequest& req, HttpResponse& res) {
      res.body = unmark::dump_json(unmark::parse_json(req.body, false).is_discarded() ? nlohmann::json("bad") : nlohmann::json("ok"));
    });
    server->route("GET", "/file", [file](const HttpRequest&, HttpResponse& res) {
      res.file = file;
      res.content_type = "application/octet-stream";
    });
    server->set_exception_mapper([](std::exception_ptr, HttpResponse& res) { res.status = 500; });
    server->set_status_responder([](int status, HttpResponse& res) { res.body = std::to_string(status); });
    const int p = server->bind("127.0.0.1", 0);
    if (p <= 0) std::abort();
    std::thread([server] { server->run(); }).detach();
    return p;
  }();
  return port;
}

void send_raw(const uint8_t* data, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(server_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    for (size_t done = 0; done < size;) {
      ssize_t n = send(fd, data + done, size - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += size_t(n);
    }
    shutdown(fd, SHUT_WR);
    char buffer[1 << 16];
    for (;;) {  // until the server closes (every input ends its connection: SHUT_WR above)
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) break;
      if (recv(fd, buffer, sizeof buffer, 0) <= 0) break;
    }
  }
  close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 8192));
  for (uint64_t file_size : {uint64_t(0), uint64_t(1), kFileSize}) {
    if (auto span = unmark::serve::byte_range(text, file_size); span && span->second != 0)
      if (span->first >= file_size || span->second > file_size - span->first) std::abort();
  }
  send_raw(data, size);
  return 0;
}

// A small HTTP server interface over cpp-httplib (only http_server.cpp includes the library, as
// llama.cpp's server-http does), so the API code deals in plain requests and responses.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace unmark::serve {

struct HttpRequest {
  std::string method, path, remote_addr;
  std::vector<std::string> matches;                    // the route pattern's captures, from [1]
  std::multimap<std::string, std::string> query;       // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                                    // routes without a streamed body only

  // Streamed multipart bodies (routes added with streamed_body): on_part gets each part's field
  // name, file name and content type, then on_data its bytes in pieces. Either returns false to
  // stop reading. Returns false when the body ended early or a callback stopped it.
  using PartFn = std::function<bool(const std::string& name, const std::string& filename,
                                    const std::string& content_type)>;
  using DataFn = std::function<bool(const char* data, size_t size)>;
  std::function<bool(const PartFn&, const DataFn&)> read_multipart;
  bool multipart = false;

  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
  std::string query_value(const std::string& key, const std::string& fallback = "") const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Send this file instead of body (Range requests answered with 206).
  std::string file;
  // Or stream (chunked): called once; `write` sends a piece and returns false once the client left.
  std::function<void(const std::function<bool(const std::string&)>& write)> stream;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// The part of a file of `size` bytes that a Range header asks for, as (first byte, length):
// one range, or ranges that overlap or touch, merged. {0, 0} means the whole file (the header is
// not bytes=, is malformed, has more than 16 ranges, or asks for parts apart: a server may always
// ignore Range); nullopt when no range starts inside the file (416).
std::optional<std::pair<uint64_t, uint64_t>> byte_range(const std::string& header, uint64_t size);

class HttpServer {
 public:
  struct Options {
    int threads = 64;                    // connections served at once (server-sent events hold one)
    size_t max_body_bytes = 1 << 20;     // request bodies that are read whole
    int read_timeout_s = 30;
  };
  explicit HttpServer(const Options& options);
  ~HttpServer();

  // `pattern`: a regular expression over the path. `streamed_body`: the body is not read up
  // front; the handler reads it through read_multipart (uploads).
  void route(const std::string& method, const std::string& pattern, HttpHandler handler,
             bool streamed_body = false);
  // Bodies of requests whose path matches `pattern` may be up to `bytes` (else max_body_bytes).
  void set_body_limit(const std::string& pattern, size_t bytes);
  // Runs before routing; returns true when it answered the request itself (auth).
  void set_guard(std::function<bool(const HttpRequest&, HttpResponse&)> guard);
  // Turns an exception escaping a handler into a response.
  void set_exception_mapper(std::function<void(std::exception_ptr, HttpResponse&)> mapper);
  // Answers unknown paths and bodies over the limit (status 404/413 given).
  void set_status_responder(std::function<void(int status, HttpResponse&)> responder);

  // Binds; port 0 picks a free one. Returns the port, or -1 when the address cannot be bound.
  int bind(const std::string& host, int port);
  void run();   // serves until stop()
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unmark::serve

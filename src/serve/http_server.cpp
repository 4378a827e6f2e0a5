// The only file that includes cpp-httplib.
//
// cpp-httplib parses requests and routes them; the connections are this file's. The library's own
// connection loop (0.11) answers a refused body without reading it and keeps the connection, so
// the body's bytes were then parsed as the next request; it reads chunked bodies without a limit,
// waits as long as a client keeps sending a byte before each read timeout, serves connections from
// a fixed pool that a few dozen slow clients fill, and applies any number of overlapping ranges.
// Here (GuardedServer, ConnectionStream, ConnectionThreads):
// - each connection has its own thread, up to kMaxConnections; beyond that a connection gets 503
//   at once, so /health is answered whatever slow clients hold;
// - a request's line and headers must arrive within kHeaderDeadline, and its body may not exceed
//   the route's limit, counted on the bytes read (chunked or not);
// - a request whose body was not read to its end (refused, or answered early) is drained when
//   that is cheap and its connection closed, so nothing of it is parsed as a request;
// - ranges are applied here (apply_range): one range or overlapping ones, else the whole file;
//   a range past the end is 416.
#include "serve/http_server.h"

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include <httplib.h>

namespace unmark::serve {

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

using Clock = std::chrono::steady_clock;

constexpr int kMaxConnections = 512;                    // served at once; more get 503
constexpr auto kHeaderDeadline = std::chrono::seconds(10);  // request line and headers, in all
constexpr uint64_t kMaxDrainBytes = 64ull << 20;        // an unread body read and dropped, up to this
constexpr auto kDrainDeadline = std::chrono::seconds(10);
constexpr size_t kMaxRanges = 16;                       // a Range header with more is ignored

// What the thread serving a connection knows of its current request (the handlers run on it).
struct ConnectionState {
  bool over_limit = false;  // the body went past its limit
  bool close = false;       // close after this response (its body was not read to the end)
};
thread_local ConnectionState* t_connection = nullptr;
thread_local bool t_reject = false;  // this connection is over kMaxConnections: answer 503

// A connection's socket as httplib's Stream, with a deadline for the headers and a limit on the
// body. Reads are buffered (the library reads headers a byte at a time).
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, int read_timeout_s, int write_timeout_s)
      : fd_(fd), read_timeout_ms_(read_timeout_s * 1000), write_timeout_ms_(write_timeout_s * 1000) {}

  // A new request: its line and headers must arrive by the deadline.
  void start_request() {
    deadline_ = Clock::now() + kHeaderDeadline;
    in_body_ = false;
    body_read_ = 0;
    status_ = 0;
    status_text_.clear();
  }
  // The headers are read: what follows is the body, at most `limit` bytes of it.
  void start_body(uint64_t limit) {
    in_body_ = true;
    limit_ = limit;
  }
  uint64_t body_read() const { return body_read_; }
  int status() const { return status_; }  // of the response written, 0 before

  bool is_readable() const override { return buffered() > 0 || wait(POLLIN, read_wait_ms()) > 0; }
  bool is_writable() const override { return wait(POLLOUT, write_timeout_ms_) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (in_body_ && body_read_ >= limit_) {
      if (t_connection) t_connection->over_limit = true;
      return -1;
    }
    if (buffered() == 0) {
      if (wait(POLLIN, read_wait_ms()) <= 0) return -1;
      ssize_t n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      if (n <= 0) return n < 0 ? -1 : 0;
      begin_ = 0;
      end_ = size_t(n);
    }
    size_t n = std::min(size, buffered());
    if (in_body_) n = size_t(std::min<uint64_t>(n, limit_ - body_read_));
    std::copy(buffer_ + begin_, buffer_ + begin_ + n, ptr);
    begin_ += n;
    if (in_body_) body_read_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (status_ == 0) note_status(ptr, size);
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  socket_t socket() const override { return fd_; }

  // Reads and drops up to `bytes` (what is left of a body), until kDrainDeadline; true when all
  // of it was read.
  bool drain(uint64_t bytes) {
    in_body_ = false;  // reads now wait no longer than deadline_
    const auto until = Clock::now() + kDrainDeadline;
    deadline_ = until;
    char sink[1 << 14];
    while (bytes > 0 && Clock::now() < until) {
      ssize_t n = read(sink, size_t(std::min<uint64_t>(bytes, sizeof sink)));
      if (n <= 0) return false;
      bytes -= uint64_t(n);
    }
    return bytes == 0;
  }

 private:
  size_t buffered() const { return end_ - begin_; }

  // Until the headers are in, reads wait no longer than the deadline leaves.
  int read_wait_ms() const {
    if (in_body_) return read_timeout_ms_;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return int(std::clamp<long long>(left, 0, read_timeout_ms_));
  }

  int wait(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 && (p.revents & (events | POLLHUP)) ? 1 : r > 0 ? -1 : r;
  }

  // "HTTP/1.1 413 ..." at the start of a response: its status.
  void note_status(const char* ptr, size_t size) {
    status_text_.append(ptr, std::min<size_t>(size, 16 - std::min<size_t>(16, status_text_.size())));
    if (status_text_.size() >= 12 && status_text_.rfind("HTTP/", 0) == 0)
      status_ = std::atoi(status_text_.c_str() + status_text_.find(' ') + 1);
  }

  void address(bool local, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if ((local ? ::getsockname : ::getpeername)(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[64] = {};
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  int read_timeout_ms_, write_timeout_ms_;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
  Clock::time_point deadline_ = Clock::now() + kHeaderDeadline;
  bool in_body_ = false;
  uint64_t body_read_ = 0, limit_ = 0;
  int status_ = 0;
  std::string status_text_;
};

// A thread for each connection, up to kMaxConnections; beyond that the connection is answered
// 503 on the accepting thread. shutdown() waits for the connections served to end.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mutex_);
      if (active_ < kMaxConnections) {
        ++active_;
        std::thread([this, fn = std::move(fn)] {
          fn();
          std::lock_guard lock(mutex_);
          --active_;
          ended_.notify_all();
        }).detach();
        return;
      }
    }
    t_reject = true;
    fn();
    t_reject = false;
  }
  void shutdown() override {
    std::unique_lock lock(mutex_);
    ended_.wait(lock, [this] { return active_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable ended_;
  int active_ = 0;
};

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

std::string HttpRequest::query_value(const std::string& key, const std::string& fallback) const {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

std::optional<std::pair<uint64_t, uint64_t>> byte_range(const std::string& header, uint64_t size) {
  const std::pair<uint64_t, uint64_t> whole{0, 0};
  if (header.rfind("bytes=", 0) != 0) return whole;
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // [first, last]
  size_t pos = 6, parts = 0;
  while (pos <= header.size()) {
    size_t comma = std::min(header.find(',', pos), header.size());
    std::string part = header.substr(pos, comma - pos);
    pos = comma + 1;
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    const size_t dash = part.find('-');
    if (dash == std::string::npos || ++parts > kMaxRanges) return whole;
    const std::string a = part.substr(0, dash), b = part.substr(dash + 1);
    auto number = [](const std::string& t, uint64_t& v) {
      if (t.empty() || t.size() > 19 || t.find_first_not_of("0123456789") != std::string::npos) return false;
      v = std::stoull(t);
      return true;
    };
    uint64_t first = 0, last = 0;
    if (a.empty()) {  // the last N bytes
      if (!number(b, last)) return whole;
      if (last == 0 || size == 0) continue;
      first = size - std::min(last, size);
      last = size - 1;
    } else {
      if (!number(a, first)) return whole;
      if (b.empty()) last = UINT64_MAX;
      else if (!number(b, last) || last < first) return whole;
      if (first >= size) continue;  // unsatisfiable; the others may not be
      last = std::min(last, size - 1);
    }
    spans.emplace_back(first, last);
  }
  if (spans.empty()) return std::nullopt;
  std::sort(spans.begin(), spans.end());
  auto merged = spans.front();
  for (const auto& [first, last] : spans) {
    if (first > merged.second + 1) return whole;  // parts apart
    merged.second = std::max(merged.second, last);
  }
  return std::make_pair(merged.first, merged.second - merged.first + 1);
}

namespace {

// httplib's server with this file's connections (see the top of the file).
class GuardedServer final : public httplib::Server {
 public:
  // The body limit of a request, from its method and path (and headers).
  std::function<uint64_t(const httplib::Request&)> body_limit;

  // The library listens with a backlog of 5: a burst of connections beyond it waits for SYN
  // retransmits (a second or more each). Calling listen() again on Linux sets a deeper one.
  void widen_backlog() {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    if (t_reject) {
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
          "Connection: close\r\nContent-Length: 70\r\n\r\n"
          "{\"error\":{\"code\":\"busy\",\"message\":\"too many connections; try again\"}}";
      ::send(sock, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      close_socket(sock);
      return false;
    }
    ConnectionStream stream(sock, int(read_timeout_sec_), int(write_timeout_sec_));
    ConnectionState state;
    t_connection = &state;
    for (size_t count = keep_alive_max_count_; count > 0 && svr_sock_ != INVALID_SOCKET; --count) {
      if (count != keep_alive_max_count_ && !idle_until_readable(stream)) break;
      state = {};
      stream.start_request();
      uint64_t content_length = 0;
      bool chunked = false;
      bool closed_by_client = false;
      bool ok = process_request(stream, count == 1, closed_by_client, [&](httplib::Request& req) {
        chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
        // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112
        // 6.3); the library would answer 400 to a bodiless POST (`curl -X POST .../cancel`).
        if (!chunked && !req.has_header("Content-Length")) req.set_header("Content-Length", "0");
        content_length = req.get_header_value<uint64_t>("Content-Length");
        stream.start_body(body_limit ? body_limit(req) : UINT64_MAX);
        // Ranges are applied by HttpServer::Impl::apply_range where a file is known.
        req.ranges.clear();
        // The library caps form-encoded bodies at 8 KiB and parses them as fields; no route here
        // takes fields that way (JSON sent by `curl -d` is labelled form-encoded), so the body is
        // given to the route as it came.
        if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
          req.headers.erase("Content-Type");
          req.set_header("Content-Type", "text/plain");
        }
      });
      // A body left unread (answered early) must never be parsed as a request: it is read and
      // dropped when small (also before closing: the client then reads its answer rather than a
      // reset), else the connection ends. A chunked one answered with an error may be unread.
      if (!chunked && stream.body_read() < content_length) {
        const uint64_t left = content_length - stream.body_read();
        if (left > kMaxDrainBytes || !stream.drain(left)) break;
      }
      if (chunked && stream.status() >= 400) break;
      if (!ok || closed_by_client || state.close || state.over_limit) break;
    }
    t_connection = nullptr;
    close_socket(sock);
    return true;
  }

  // Waits for the next request of a kept-alive connection, checking for a stop every 100 ms.
  bool idle_until_readable(ConnectionStream& stream) {
    const auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET && Clock::now() < until) {
      pollfd p{stream.socket(), POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r > 0) return (p.revents & POLLIN) != 0;
      if (r < 0 && errno != EINTR) return false;
    }
    return false;
  }

  static void close_socket(socket_t sock) {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
};

}  // namespace

struct HttpServer::Impl {
  Options options;
  GuardedServer server;
  std::vector<std::regex> streamed_routes;
  std::vector<std::pair<std::regex, uint64_t>> body_limits;
  std::function<bool(const HttpRequest&, HttpResponse&)> guard;
  std::function<void(std::exception_ptr, HttpResponse&)> exception_mapper;
  std::function<void(int, HttpResponse&)> status_responder;

  static HttpRequest convert(const httplib::Request& req) {
    HttpRequest r;
    r.method = req.method;
    r.path = req.path;
    r.remote_addr = req.remote_addr;
    for (size_t i = 0; i < req.matches.size(); ++i) r.matches.push_back(req.matches[i].str());
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
    r.body = req.body;
    r.multipart = req.is_multipart_form_data();
    return r;
  }

  // `range`: the request's Range header, applied to a file answered 200.
  void apply(const HttpResponse& from, httplib::Response& to, const std::string& range = "") {
    to.status = from.status;
    for (const auto& [k, v] : from.headers) to.set_header(k, v);
    if (from.stream) {
      auto stream = from.stream;
      to.set_chunked_content_provider(from.content_type, [stream](size_t, httplib::DataSink& sink) {
        stream([&sink](const std::string& piece) { return sink.is_writable() && sink.write(piece.data(), piece.size()); });
        sink.done();
        return true;
      });
    } else if (!from.file.empty()) {
      std::FILE* f = std::fopen(from.file.c_str(), "rb");
      if (!f) {
        HttpResponse missing;
        status_responder(404, missing);
        to.status = missing.status;
        to.set_content(missing.body, missing.content_type);
        return;
      }
      std::fseek(f, 0, SEEK_END);
      const uint64_t size = uint64_t(std::max(0L, std::ftell(f)));
      to.set_header("Accept-Ranges", "bytes");
      uint64_t first = 0, length = size;
      if (from.status == 200 && !range.empty()) {
        auto span = byte_range(range, size);
        if (!span) {
          std::fclose(f);
          HttpResponse unsatisfiable;
          status_responder(416, unsatisfiable);
          to.status = 416;
          to.set_header("Content-Range", "bytes */" + std::to_string(size));
          to.set_content(unsatisfiable.body, unsatisfiable.content_type);
          return;
        }
        if (span->second != 0) {
          std::tie(first, length) = *span;
          if (length != size) {
            to.status = 206;
            to.set_header("Content-Range", "bytes " + std::to_string(first) + "-" +
                                               std::to_string(first + length - 1) + "/" + std::to_string(size));
          }
        }
      }
      to.set_content_provider(
          size_t(length), from.content_type,
          [f, first](size_t offset, size_t length, httplib::DataSink& sink) {
            char buffer[1 << 16];
            if (std::fseek(f, long(first + offset), SEEK_SET) != 0) return false;
            size_t n = std::fread(buffer, 1, std::min(length, sizeof buffer), f);
            return n > 0 && sink.write(buffer, n);
          },
          [f](bool) { std::fclose(f); });
    } else {
      to.set_content(from.body, from.content_type);
    }
  }

  void respond_status(int status, httplib::Response& res) {
    HttpResponse r;
    r.status = status;
    if (status_responder) status_responder(status, r);
    apply(r, res);
  }

  // The most a request's body to `path` may hold (a streamed route's handler sets its own).
  uint64_t body_limit_for(const std::string& path) const {
    if (is_streamed(path)) return UINT64_MAX;
    for (const auto& [pattern, bytes] : body_limits)
      if (std::regex_match(path, pattern)) return bytes;
    return options.max_body_bytes;
  }

  bool is_streamed(const std::string& path) const {
    return std::any_of(streamed_routes.begin(), streamed_routes.end(),
                       [&](const std::regex& re) { return std::regex_match(path, re); });
  }
};

HttpServer::HttpServer(const Options& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  Impl* impl = impl_.get();
  impl->server.new_task_queue = [] { return new ConnectionThreads(); };
  impl->server.set_read_timeout(options.read_timeout_s, 0);
  impl->server.set_write_timeout(options.read_timeout_s, 0);
  impl->server.set_keep_alive_max_count(1000);
  // Headers and body go out in separate writes: without this, Nagle holds the body back until
  // the client's delayed ACK, 40 ms on every small response.
  impl->server.set_tcp_nodelay(true);
  // The library's default adds SO_REUSEPORT, with which a second server on a busy port starts
  // and the kernel splits the connections between the two: a busy port must be an error.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Bodies are limited on the bytes read (ConnectionStream); the library's own limit only
  // checks a Content-Length, then reads the whole body to skip it.
  impl->server.set_payload_max_length(size_t(1) << 62);
  impl->server.body_limit = [impl](const httplib::Request& req) { return impl->body_limit_for(req.path); };
  impl->server.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > impl->body_limit_for(req.path)) {
      impl->respond_status(413, res);
      res.set_header("Connection", "close");
      if (t_connection) t_connection->close = true;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (impl->guard) {
      HttpResponse r;
      if (impl->guard(Impl::convert(req), r)) {
        impl->apply(r, res);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  impl->server.set_error_handler([impl](const httplib::Request&, httplib::Response& res) {
    if (t_connection && t_connection->over_limit) {
      // The body went past its limit while read (chunked, or longer than it said): the library
      // reports a failed read; the client is told why, and the connection ends.
      res.status = 413;
      res.body.clear();
      res.set_header("Connection", "close");
      t_connection->close = true;
    }
    if (res.body.empty() && !res.content_provider_) impl->respond_status(res.status, res);
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& pattern, HttpHandler handler, bool streamed_body) {
  Impl* impl = impl_.get();
  auto run = [impl, handler](HttpRequest& r, httplib::Response& res) {
    HttpResponse out;
    try {
      handler(r, out);
    } catch (...) {
      out = HttpResponse{};
      if (impl->exception_mapper) impl->exception_mapper(std::current_exception(), out);
      else out.status = 500;
    }
    impl->apply(out, res, r.header("Range"));
  };
  if (streamed_body) {
    impl->streamed_routes.emplace_back(pattern);
    httplib::Server::HandlerWithContentReader h = [run](const httplib::Request& req, httplib::Response& res,
                                                        const httplib::ContentReader& reader) {
      HttpRequest r = Impl::convert(req);
      r.read_multipart = [&reader](const HttpRequest::PartFn& on_part, const HttpRequest::DataFn& on_data) {
        return reader(
            [&](const httplib::MultipartFormData& part) { return on_part(part.name, part.filename, part.content_type); },
            [&](const char* data, size_t size) { return on_data(data, size); });
      };
      run(r, res);
    };
    if (method == "POST") impl->server.Post(pattern, h);
    else if (method == "PUT") impl->server.Put(pattern, h);
    return;
  }
  httplib::Server::Handler h = [run](const httplib::Request& req, httplib::Response& res) {
    HttpRequest r = Impl::convert(req);
    run(r, res);
  };
  if (method == "GET") impl->server.Get(pattern, h);
  else if (method == "POST") impl->server.Post(pattern, h);
  else if (method == "PUT") impl->server.Put(pattern, h);
  else if (method == "DELETE") impl->server.Delete(pattern, h);
  else if (method == "OPTIONS") impl->server.Options(pattern, h);
}

void HttpServer::set_body_limit(const std::string& pattern, size_t bytes) {
  impl_->body_limits.emplace_back(std::regex(pattern), uint64_t(bytes));
}

void HttpServer::set_guard(std::function<bool(const HttpRequest&, HttpResponse&)> guard) {
  impl_->guard = std::move(guard);
}

void HttpServer::set_exception_mapper(std::function<void(std::exception_ptr, HttpResponse&)> mapper) {
  impl_->exception_mapper = std::move(mapper);
}

void HttpServer::set_status_responder(std::function<void(int, HttpResponse&)> responder) {
  impl_->status_responder = std::move(responder);
}

int HttpServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? impl_->server.bind_to_any_port(host) : impl_->server.bind_to_port(host, port) ? port : -1;
  if (bound > 0) impl_->server.widen_backlog();
  return bound;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() {
  if (impl_) impl_->server.stop();
}

}  // namespace unmark::serve

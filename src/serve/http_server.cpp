// The only file that includes cpp-httplib.
#include "serve/http_server.h"

#include <algorithm>
#include <cstdio>
#include <regex>

#include <httplib.h>

namespace unmark::serve {

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

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

struct HttpServer::Impl {
  Options options;
  httplib::Server server;
  std::vector<std::regex> streamed_routes;
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

  void apply(const HttpResponse& from, httplib::Response& to) {
    // A file answered 200 is left to the library, which makes it 206 for a Range request.
    if (from.file.empty() || from.status != 200) to.status = from.status;
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
      const long size = std::ftell(f);
      to.set_header("Accept-Ranges", "bytes");
      to.set_content_provider(
          size_t(size), from.content_type,
          [f](size_t offset, size_t length, httplib::DataSink& sink) {
            char buffer[1 << 16];
            if (std::fseek(f, long(offset), SEEK_SET) != 0) return false;
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

  bool is_streamed(const std::string& path) const {
    return std::any_of(streamed_routes.begin(), streamed_routes.end(),
                       [&](const std::regex& re) { return std::regex_match(path, re); });
  }
};

HttpServer::HttpServer(const Options& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  Impl* impl = impl_.get();
  const int threads = options.threads;
  impl->server.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  impl->server.set_read_timeout(options.read_timeout_s, 0);
  impl->server.set_write_timeout(options.read_timeout_s, 0);
  impl->server.set_keep_alive_max_count(1000);
  // Headers and body go out in separate writes: without this, Nagle holds the body back until
  // the client's delayed ACK, 40 ms on every small response.
  impl->server.set_tcp_nodelay(true);
  // Whole bodies are limited up front by Content-Length (below); the library's limit is what a
  // streamed upload may send, which its handler enforces more precisely.
  impl->server.set_payload_max_length(size_t(1) << 40);
  impl->server.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty() && !impl->is_streamed(req.path) &&
        std::strtoull(length.c_str(), nullptr, 10) > impl->options.max_body_bytes) {
      impl->respond_status(413, res);
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
    impl->apply(out, res);
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
  if (port == 0) return impl_->server.bind_to_any_port(host);
  return impl_->server.bind_to_port(host, port) ? port : -1;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() {
  if (impl_) impl_->server.stop();
}

}  // namespace unmark::serve

#include "serve/http_client.h"

#include <memory>

#include <curl/curl.h>

#include "serve/curl_guard.h"

namespace unmark::serve {

namespace {

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (body->size() + n > (64u << 20)) return 0;  // an answer this large is not a control message
  body->append(data, n);
  return n;
}

}  // namespace

HttpReply http_call(const HttpCall& call, const std::atomic<bool>* abort) {
  curl_init_once();
  HttpReply reply;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    reply.error = "out of memory";
    return reply;
  }
  CURL* c = curl.get();
  std::string body;
  curl_slist* list = nullptr;
  for (const std::string& h : call.headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
  set_transfer_options(c, call.connect_timeout_s, call.timeout_s, error, abort);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (!call.body.empty() || call.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(call.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    reply.error = rc == CURLE_ABORTED_BY_CALLBACK ? "aborted" : (error[0] ? error : curl_easy_strerror(rc));
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(body);
  return reply;
}

}  // namespace unmark::serve

#include "serve/http_client.h"

#include <memory>

#include <curl/curl.h>

#include "serve/curl_guard.h"

namespace unmark::serve {

namespace {

struct State {
  std::string body;
  const std::atomic<bool>* abort = nullptr;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<State*>(user);
  const size_t n = size * count;
  if (s->body.size() + n > (64u << 20)) return 0;  // an answer this large is not a control message
  s->body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<State*>(user);
  return s->abort && s->abort->load() ? 1 : 0;
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
  State state{{}, abort};
  curl_slist* list = nullptr;
  for (const std::string& h : call.headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (!call.body.empty() || call.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(call.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, call.timeout_s);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, call.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "unmark/" UNMARK_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &state);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    reply.error = rc == CURLE_ABORTED_BY_CALLBACK ? "aborted" : (error[0] ? error : curl_easy_strerror(rc));
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(state.body);
  return reply;
}

}  // namespace unmark::serve

// Plain HTTP(S) requests through libcurl for the control planes unmark talks to (RunPod's job
// API): one call, one answer, a timeout, and a flag that aborts a long poll at shutdown.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace unmark::serve {

struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when not empty (or for POST)
  long timeout_s = 30;
  long connect_timeout_s = 10;
};

struct HttpReply {
  long status = 0;      // 0 when no answer came
  std::string body;
  std::string error;    // why no (complete) answer came: refused, timed out, dropped, aborted
  bool answered() const { return error.empty(); }
};

// Never throws for network trouble (the reply says it); `abort` set ends the call within ~0.1 s.
HttpReply http_call(const HttpCall& call, const std::atomic<bool>* abort = nullptr);

}  // namespace unmark::serve

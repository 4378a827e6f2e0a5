#include "core/error.h"

extern "C" {
#include <libavutil/error.h>
}

namespace unmark {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage: return "usage";
    case ErrorKind::input: return "input";
    case ErrorKind::output: return "output";
    case ErrorKind::unsupported: return "unsupported";
    case ErrorKind::processing: return "processing";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

std::string av_error_text(int averr) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(averr, buf, sizeof buf);
  return buf;
}

int check(int averr, std::string_view stage, ErrorKind kind, std::string_view what) {
  if (averr >= 0) return averr;
  throw Error(std::string(stage), kind, std::string(what) + ": " + av_error_text(averr));
}

}  // namespace unmark

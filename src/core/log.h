// Loggers tagged by component (after llama.cpp's common/log.h and mpv's MP_WARN(vd, ...)): every
// line names its stage, "decode: opened h264 480x872", so a failure says where it happened.
// Text goes to stderr as "stage: message"; --log-format json writes one JSON object per line.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace unmark {

enum class LogFormat { text, json };

// Configures every component logger; safe to call again (tests, servers). Until it is called,
// loggers print warnings and errors as text.
void setup_logging(spdlog::level::level_enum level, LogFormat format);

// The logger of one component: "decode", "detect", "track", "remove", "encode", "mux",
// "pipeline", "probe", "libav". Cheap to call; returns the same logger each time.
std::shared_ptr<spdlog::logger> log_for(std::string_view component);

// Tags every line logged on this thread with `tag` ("job 1a2b3c4d: pipeline: ...", or a "context"
// field in JSON) while it lives, so a server running jobs side by side says whose line it is.
// Threads a stage starts take the tag over with LogContext(LogContext::current()).
class LogContext {
 public:
  explicit LogContext(std::string tag);
  ~LogContext();
  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;
  static std::string current();

 private:
  std::string previous_;
};

}  // namespace unmark

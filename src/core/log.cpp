#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

extern "C" {
#include <libavutil/log.h>
}

#include "core/json_text.h"

namespace unmark {
namespace {

thread_local std::string t_log_context;

// "%*" in the text pattern: the thread's context and ": ", or nothing.
class ContextFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (t_log_context.empty()) return;
    dest.append(t_log_context.data(), t_log_context.data() + t_log_context.size());
    dest.append(std::string_view(": "));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<ContextFlag>(); }
};

// One JSON object per line, built with a JSON library so messages are escaped correctly.
class JsonStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    nlohmann::json line = {
        {"ts", double(ms) / 1000.0},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"stage", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    if (!t_log_context.empty()) line["context"] = t_log_context;
    std::string text = dump_json(line);
    text.push_back('\n');
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

struct LogState {
  std::mutex mutex;
  spdlog::sink_ptr sink;
  spdlog::level::level_enum level = spdlog::level::warn;
};

LogState& state() {
  static LogState s;
  return s;
}

spdlog::sink_ptr make_text_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<ContextFlag>('*').set_pattern("%*%n: %v");
  sink->set_formatter(std::move(formatter));
  return sink;
}

// libav's own messages go to the "libav" logger, one level below ours so they only show with -vv.
void av_log_to_spdlog(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > av_log_get_level()) return;
  static thread_local int print_prefix = 1;
  char line[1024];
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  auto logger = log_for("libav");
  if (level <= AV_LOG_ERROR) logger->debug("{}", text);
  else logger->trace("{}", text);
}

}  // namespace

void setup_logging(spdlog::level::level_enum level, LogFormat format) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.sink = format == LogFormat::json ? spdlog::sink_ptr(std::make_shared<JsonStderrSink>())
                                     : make_text_sink();
  s.level = level;
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) {
    l->sinks().clear();
    l->sinks().push_back(s.sink);
    l->set_level(level);
  });
  av_log_set_level(level <= spdlog::level::trace   ? AV_LOG_VERBOSE
                   : level <= spdlog::level::debug ? AV_LOG_WARNING
                                                   : AV_LOG_QUIET);
  av_log_set_callback(av_log_to_spdlog);
}

std::shared_ptr<spdlog::logger> log_for(std::string_view component) {
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  if (!s.sink) {
    s.sink = make_text_sink();
    av_log_set_level(AV_LOG_QUIET);
  }
  auto logger = std::make_shared<spdlog::logger>(name, s.sink);
  logger->set_level(s.level);
  spdlog::register_logger(logger);
  return logger;
}

LogContext::LogContext(std::string tag) : previous_(std::exchange(t_log_context, std::move(tag))) {}
LogContext::~LogContext() { t_log_context = std::move(previous_); }
std::string LogContext::current() { return t_log_context; }

}  // namespace unmark

// unmark: removes visible watermarks from videos.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/log.h"

namespace unmark::cli {

std::atomic<bool> g_cancel{false};

namespace {

// Exit codes by error kind (distinct, so scripts can tell a bad input from a bad option).
int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage: return 2;
    case ErrorKind::input: return 3;
    case ErrorKind::output: return 4;
    case ErrorKind::unsupported: return 5;
    case ErrorKind::processing: return 6;
    case ErrorKind::cancelled: return 130;
    case ErrorKind::internal: return 1;
  }
  return 1;
}

void print_error(const std::string& stage, const std::string& message, const std::string& format) {
  if (format == "json") {
    nlohmann::json j = {{"level", "error"}, {"stage", stage}, {"msg", message}};
    std::fprintf(stderr, "%s\n", dump_json(j).c_str());
  } else {
    // One line, whatever the message holds (a library's message may span several).
    std::string line = message;
    std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(stderr, "unmark: error: %s: %s\n", stage.c_str(), line.c_str());
  }
}

void on_signal(int) {
  g_cancel = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace
}  // namespace unmark::cli

int main(int argc, char** argv) {
  using namespace unmark;
  using namespace unmark::cli;
  CLI::App app{"unmark: removes visible watermarks from videos"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("unmark ") + UNMARK_VERSION);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "Log each stage (-vv: debug, with libav's messages)");
  app.add_flag("-q,--quiet", global.quiet, "No progress bar, errors only");
  app.add_option("--log-format", global.log_format, "Log lines as text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->envname("UNMARK_LOG_FORMAT");

  std::map<CLI::App*, Command> commands;
  auto add = [&](Command (*adder)(CLI::App&, const GlobalOptions&)) {
    std::size_t before = app.get_subcommands({}).size();
    Command c = adder(app, global);
    commands[app.get_subcommands({})[before]] = std::move(c);
  };
  add(add_remove_command);
  add(add_probe_command);
  add(add_detect_command);
  add(add_learn_command);
  add(add_serve_command);
  add(add_worker_command);
  add(add_doctor_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  spdlog::level::level_enum level = global.quiet           ? spdlog::level::err
                                    : global.verbosity >= 3 ? spdlog::level::trace
                                    : global.verbosity == 2 ? spdlog::level::debug
                                    : global.verbosity == 1 ? spdlog::level::info
                                    // a service's log is its record: jobs taken, done, failed
                                    : app.got_subcommand("serve") || app.got_subcommand("worker") ? spdlog::level::info
                                                            : spdlog::level::warn;
  setup_logging(level, global.log_format == "json" ? LogFormat::json : LogFormat::text);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // A client that hangs up (serve) or a closed pipe must be an error on that write, not death.
  std::signal(SIGPIPE, SIG_IGN);

  try {
    for (CLI::App* sub : app.get_subcommands())
      if (auto it = commands.find(sub); it != commands.end()) return it->second();
    return 2;
  } catch (const Error& e) {
    print_error(e.stage(), e.what(), global.log_format);
    return exit_code(e.kind());
  } catch (const std::bad_alloc&) {
    print_error("unmark", "out of memory", global.log_format);
    return 1;
  } catch (const std::exception& e) {
    print_error("unmark", std::string("internal error: ") + e.what(), global.log_format);
    return 1;
  }
}

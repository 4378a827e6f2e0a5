// The `unmark` subcommands. Each registers its options on the app and returns the function that
// runs it; errors travel as unmark::Error up to main(), which maps them to one line and an exit code.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace unmark::cli {

struct GlobalOptions {
  int verbosity = 0;  // -v, -vv
  bool quiet = false;
  std::string log_format = "text";
};

using Command = std::function<int()>;

Command add_remove_command(CLI::App& app, const GlobalOptions& global);
Command add_probe_command(CLI::App& app, const GlobalOptions& global);
Command add_learn_command(CLI::App& app, const GlobalOptions& global);
Command add_detect_command(CLI::App& app, const GlobalOptions& global);
Command add_serve_command(CLI::App& app, const GlobalOptions& global);
Command add_worker_command(CLI::App& app, const GlobalOptions& global);
Command add_doctor_command(CLI::App& app, const GlobalOptions& global);

// Set by SIGINT/SIGTERM; the pipeline stops and removes its temporary output.
extern std::atomic<bool> g_cancel;

}  // namespace unmark::cli

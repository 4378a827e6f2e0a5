#include <cstdio>

#include "cli/commands.h"
#include "core/json_text.h"
#include "io/probe.h"

namespace unmark::cli {

Command add_probe_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("probe", "Print a file's streams and format as JSON");
  auto path = std::make_shared<std::string>();
  sub->add_option("input", *path, "Media file")->required();
  return [path] {
    std::printf("%s\n", dump_json(probe_media(*path), 2).c_str());
    return 0;
  };
}

}  // namespace unmark::cli

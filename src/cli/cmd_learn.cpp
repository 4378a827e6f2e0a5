#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "detect/learn.h"

namespace unmark::cli {

Command add_learn_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("learn", "Learn a watermark profile from videos that carry the mark");
  struct Args {
    std::vector<std::string> videos;
    std::string output;
    LearnOptions options;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("videos", args->videos, "Videos with the same mark (more and more varied is better)")
      ->required();
  sub->add_option("-o,--output", args->output, "Profile to write (NAME.json; NAME.png goes beside it)")
      ->required();
  sub->add_option("--name", args->options.name, "Profile name (default: the output's file name)");
  sub->add_option("--max-frames", args->options.max_frames, "Frames used per video")
      ->default_val(360)
      ->check(CLI::Range(32, 100000));
  return [args] {
    if (args->options.name == "learned" || args->options.name.empty()) {
      std::string base = args->output.substr(args->output.find_last_of('/') + 1);
      args->options.name = base.substr(0, base.find('.'));
    }
    if (args->output.size() < 5 || args->output.substr(args->output.size() - 5) != ".json")
      throw Error("cli", ErrorKind::usage, "-o must name a .json file");
    // Before minutes of learning: can the profile be written at all?
    namespace fs = std::filesystem;
    fs::path dir = fs::path(args->output).has_parent_path() ? fs::path(args->output).parent_path() : ".";
    if (!fs::is_directory(dir) || ::access(dir.c_str(), W_OK) != 0)
      throw Error("learn", ErrorKind::output, "cannot write to '" + dir.string() + "'");
    LearnReport report;
    Profile p = learn_profile(args->videos, args->options, &report, &g_cancel);
    std::string cmd = "unmark learn";
    for (const auto& v : args->videos) cmd += " " + v;
    p.learned_from = cmd + " -o " + args->output;
    save_profile(p, args->output);
    std::printf("learned '%s': %dx%d mark at width %d, %zu places, from %d frames (%d windows)\n",
                p.name.c_str(), p.width(), p.height(), p.reference_width, p.places.size(),
                report.frames_used, report.windows_found);
    return 0;
  };
}

}  // namespace unmark::cli

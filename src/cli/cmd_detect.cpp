#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "core/error.h"
#include "core/json_text.h"
#include "io/frame_reader.h"
#include "pipeline/detection.h"
#include "pipeline/pipeline.h"
#include "track/tracker.h"

namespace unmark::cli {

Command add_detect_command(CLI::App& app, const GlobalOptions& global) {
  auto* sub = app.add_subcommand("detect", "Find the mark in every frame; print boxes or draw them");
  struct Args {
    std::string input, overlay, save_profile;
    DetectionSettings detection;
    std::vector<std::string> regions;
    bool json = false;
    int segment = 30;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("input", args->input, "Input video")->required();
  sub->add_option("--detect", args->detection.mode, "auto, static, profile:NAME or regions")->default_val("auto");
  sub->add_option_function<std::string>(
      "--profile", [args](const std::string& p) { args->detection.mode = "profile:" + p; },
      "Use this profile (built-in name or .json)");
  sub->add_option("--region", args->regions, "x,y,w,h[@t0-t1] (with --detect regions)")->take_all();
  sub->add_option("--refine", args->detection.refine,
                  "Measure the profile's alpha and colour again on this video: auto (built-in and discovered "
                  "profiles; a profile file is used as it is), on, off")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  sub->add_option("--save-profile", args->save_profile,
                  "Write the profile the mark was found with (NAME.json and NAME.png), to reuse with --profile");
  sub->add_flag("--json", args->json, "Per-frame boxes and confidences as JSON");
  sub->add_option("--overlay", args->overlay, "Write a copy of the video with the boxes drawn");
  sub->add_option("--segment", args->segment, "Frames tracked together")->default_val(30)->check(CLI::Range(1, 100000));

  return [args, &global] {
    for (const auto& r : args->regions) args->detection.regions.push_back(parse_region(r));
    if (!args->overlay.empty()) {
      RemoveJob job;
      job.input = args->input;
      job.output = args->overlay;
      job.detection = args->detection;
      job.remover = "outline";
      job.segment_frames = args->segment;
      ProgressBar bar(!global.quiet);
      RunReport r = run_remove(job, [&](const Progress& p) { bar.update(p); }, &g_cancel);
      bar.finish();
      std::fprintf(stderr, "overlay: %lld of %lld frames with a mark -> %s\n",
                   (long long)r.frames_with_marks, (long long)r.frames, args->overlay.c_str());
      if (!args->json) return 0;
    }
    nlohmann::json frames = nlohmann::json::array();
    std::unique_ptr<Detector> detector;
    std::unique_ptr<SegmentAssembler> assembler;
    int64_t with_mark = 0;
    std::string description;
    auto flush = [&](std::vector<SegmentFrame> segment) {
      for (SegmentFrame& sf : segment) {
        nlohmann::json marks = nlohmann::json::array();
        for (const Mark& m : sf.marks)
          marks.push_back({{"x", m.box.x}, {"y", m.box.y}, {"w", m.box.w}, {"h", m.box.h},
                           {"confidence", std::round(m.confidence * 1000) / 1000}});
        with_mark += !sf.marks.empty();
        frames.push_back({{"frame", sf.frame.index}, {"time", std::round(sf.frame.time * 1e6) / 1e6},
                          {"marks", marks}});
      }
    };
    read_frames(args->input, [&](Frame& f) {
      if (!detector) {
        validate_regions(args->detection.regions, f.width(), f.height());
        DetectionChoice c = choose_detector(args->detection, args->input, f.width(), f.height());
        detector = std::move(c.detector);
        description = c.description;
        if (!args->save_profile.empty()) {
          if (!c.profile) throw Error("cli", ErrorKind::usage, "--save-profile: no profile was used (" + description + ")");
          save_profile(*c.profile, args->save_profile);
        }
        assembler = std::make_unique<SegmentAssembler>(args->segment, *detector);
      }
      SegmentFrame sf{std::move(f), {}};
      sf.marks = detector->detect(sf.frame);
      flush(assembler->push(std::move(sf)));
      return true;
    }, &g_cancel);
    if (assembler) flush(assembler->finish());
    nlohmann::json out = {{"input", args->input}, {"detector", description},
                          {"frames_with_mark", with_mark}, {"frames", frames}};
    if (args->json) std::printf("%s\n", dump_json(out, 1).c_str());
    else std::printf("%s: mark found in %lld of %zu frames\n", args->input.c_str(), (long long)with_mark, frames.size());
    return 0;
  };
}

}  // namespace unmark::cli

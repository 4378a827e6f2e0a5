#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "core/error.h"
#include "core/json_text.h"
#include "pipeline/pipeline.h"

namespace unmark::cli {
namespace {

struct RemoveArgs {
  RemoveJob job;
  std::vector<std::string> regions;
  bool stats = false;
  bool json = false;
};

void print_stats(const RunReport& r) {
  const StageTimes& s = r.stages;
  std::fprintf(stderr,
               "frames %lld (%lld with marks), %.2f s, %.1f fps, %dx%d, decoder %s, encoder %s, "
               "remover %s\n"
               "stage seconds: prepare %.2f  measure %.2f  decode %.2f  detect %.2f  track %.2f  remove %.2f  encode %.2f  "
               "mux %.2f\n"
               "waiting:       decode %.2f  process %.2f  encode %.2f\n",
               (long long)r.frames, (long long)r.frames_with_marks, r.seconds, r.fps, r.width,
               r.height, r.decoder.c_str(), r.encoder.c_str(), r.remover.c_str(), s.prepare, s.measure, s.decode,
               s.detect, s.track, s.remove, s.encode, s.mux, s.decode_wait, s.process_wait, s.encode_wait);
}

}  // namespace

Command add_remove_command(CLI::App& app, const GlobalOptions& global) {
  auto* sub = app.add_subcommand("remove", "Remove a watermark from a video");
  auto args = std::make_shared<RemoveArgs>();
  RemoveJob& job = args->job;
  sub->add_option("input", job.input, "Input video (file or URL)")->required();
  sub->add_option("-o,--output", job.output, "Output video (.mp4, .mov, .mkv)")->required();
  sub->add_option("--region", args->regions,
                  "Where the mark is: x,y,w,h in pixels, optionally @start-end in seconds "
                  "(repeatable)")
      ->take_all();
  sub->add_option("--detect", job.detection.mode,
                  "How to find the mark: auto (built-in profiles, then static-logo discovery), static, profile:NAME, regions, none (a plain re-encode)")
      ->default_val("auto")
      ->envname("UNMARK_DETECT");
  sub->add_option("--max-box-percent", job.detection.max_box_percent,
                  "Ignore found marks whose box covers more than this percent of the frame")
      ->default_val(100)
      ->check(CLI::Range(0.01, 100.0))
      ->envname("UNMARK_MAX_BOX_PERCENT");
  sub->add_option_function<std::string>(
      "--profile", [args](const std::string& p) { args->job.detection.mode = "profile:" + p; },
      "Use this profile (a built-in name such as sora2, or a profile .json)");
  sub->add_option("--refine", job.detection.refine,
                  "Measure the profile's alpha and colour again on this video: auto (built-in and discovered "
                  "profiles; a profile file is used as it is), on, off")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  sub->add_option("--remove", job.remover, "Remover: auto (deblend marks whose profile was measured on the video, fill the rest from nearby frames, inpaint what none saw), temporal (fill from nearby frames), inpaint, deblend (reverse alpha blending with the profile)")
      ->default_val("auto")
      ->envname("UNMARK_REMOVE");
  sub->add_option("--feather", job.remover_options.feather,
                  "Pixels inside the region edge over which the fill blends in")
      ->default_val(2)
      ->check(CLI::Range(0, 64));
  auto* enc = sub->add_option_group("Encoding");
  enc->add_option("--encoder", job.encoder.name, "auto, x264, x265 or nvenc")
      ->default_val("auto")
      ->envname("UNMARK_ENCODER");
  enc->add_option("--crf", job.encoder.crf, "Constant quality (lower is better; 17 keeps the rest of the frame >= 45 dB)")
      ->default_val(EncoderSettings::kDefaultCrf)
      ->check(CLI::Range(0, 51))
      ->envname("UNMARK_CRF");
  enc->add_option("--preset", job.encoder.preset, "Encoder speed preset (x264 names)")
      ->default_val("veryfast")
      ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                             "slow", "slower", "veryslow", "placebo"}))
      ->envname("UNMARK_PRESET");
  auto* edit = sub->add_option_group("Editing (also without removal: --detect none)");
  edit->add_option("--start", job.edits.start, "Cut everything before this many seconds")->check(CLI::Range(0.0, 1e7));
  edit->add_option("--end", job.edits.end, "Cut everything from this many seconds on")->check(CLI::Range(0.0, 1e7));
  edit->add_option_function<std::string>(
      "--scale",
      [args](const std::string& text) {
        // WxH, or one side with the other as 0 or -1 (kept in proportion).
        int w = 0, h = 0;
        char x = 0, rest = 0;
        if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &rest) != 3 || (x != 'x' && x != 'X') || (w <= 0 && h <= 0))
          throw CLI::ValidationError("--scale", "'" + text + "' is not WxH (e.g. 1280x720, 1280x-1, -1x720)");
        args->job.edits.width = std::max(0, w);
        args->job.edits.height = std::max(0, h);
      },
      "Output size WxH; -1 for one side keeps the aspect ratio");
  edit->add_option("--fps", job.edits.fps, "Constant output frame rate (frames dropped or repeated)")->check(CLI::Range(1.0, 240.0));
  edit->add_flag("!--no-audio", job.edits.audio, "Leave the audio out");
  sub->add_option("--segment", job.segment_frames, "Frames processed together")
      ->default_val(8)
      ->check(CLI::Range(1, 100000))
      ->envname("UNMARK_SEGMENT");
  sub->add_option("--decoder", job.decoder, "auto (NVDEC when it opens, else CPU), nvdec or cpu")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "nvdec", "cpu"}))
      ->envname("UNMARK_DECODER");
  sub->add_flag("--require-gpu", job.require_gpu,
                "Fail instead of falling back to the CPU (no GPU, NVDEC or NVENC missing); with "
                "--encoder x264 only decoding must be on the GPU")
      ->envname("UNMARK_REQUIRE_GPU");
  sub->add_option("--decode-threads", job.decode_threads, "Decoder threads (0: half the cores, at least 2)")
      ->default_val(0)
      ->check(CLI::Range(0, 64))
      ->envname("UNMARK_DECODE_THREADS");
  sub->add_option("--preview", job.preview, "Write before/after crops of a few frames to this PNG");
  sub->add_flag("--stats", args->stats, "Print per-stage timings at the end");
  sub->add_flag("--json", args->json, "Print the run's report as JSON on stdout");

  return [args, &global] {
    RemoveJob& job = args->job;
    job.detection.regions.clear();
    for (const std::string& r : args->regions) job.detection.regions.push_back(parse_region(r));
    ProgressBar bar(!global.quiet);
    RunReport report = run_remove(job, [&](const Progress& p) { bar.update(p); }, &g_cancel);
    bar.finish();
    if (args->stats) print_stats(report);
    if (args->json) std::printf("%s\n", dump_json(to_json(report), 2).c_str());
    return 0;
  };
}

}  // namespace unmark::cli

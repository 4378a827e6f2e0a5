// The remove pipeline: decode -> detect -> remove -> encode -> mux, each group on its own thread,
// joined by bounded queues so memory stays flat however long the video is.
//
//   unmark::RemoveJob job;
//   job.input = "in.mp4";
//   job.output = "clean.mp4";
//   job.detection.regions = {unmark::parse_region("20,30,120,40")};  // or leave empty: auto
//   unmark::RunReport report = unmark::run_remove(job);   // throws unmark::Error
//
// Threads: demux+decode (also copies or re-encodes the other streams' packets), process (collects
// segments of N frames, detects, removes) and encode+mux. The first error in any thread stops all
// of them and is rethrown from run_remove; the output then never appears at its path.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/region.h"
#include "io/video_encoder.h"
#include "pipeline/detection.h"
#include "pipeline/edits.h"
#include "remove/remover.h"

namespace unmark {

struct RemoveJob {
  std::string input, output;
  DetectionSettings detection;       // how marks are found (auto, a profile, the user's regions)
  std::string remover = "auto";
  RemoverOptions remover_options;
  EncoderSettings encoder;
  EditSettings edits;      // trim, scale, frame rate, audio (transcode operations)
  int segment_frames = 8;  // frames the remover sees at once (each holds a decoded frame: memory)
  int decode_threads = 0;   // 0: half the cores, at least 2
  std::string decoder = "auto";  // auto (NVDEC when it opens, else CPU) | nvdec | cpu
  bool require_gpu = false;      // a fallback to the CPU (decode, encode, no GPU) is an error
  std::string preview;      // before/after crops of a few frames written here (PNG) when set
  // Frames held in memory while the profile is measured on them (0: a quarter of the memory, at
  // most 2 GiB); the measuring stops early when they would exceed it.
  size_t measure_memory = 0;
};

// Seconds each stage spent working, and waiting on its neighbours.
struct StageTimes {
  double prepare = 0;  // before the stages start: opening files, choosing the detector (auto's look
                       // at the first frames, static-logo discovery)
  double measure = 0;  // measuring the profile on the first frames as they are decoded (refine.h)
  double decode = 0, detect = 0, track = 0, remove = 0, encode = 0, mux = 0;
  double decode_wait = 0, process_wait = 0, encode_wait = 0;
};

struct RunReport {
  std::string path = "cpu";  // where decode, removal and encode ran: "cpu", "nvdec + cpu"
  int64_t frames = 0;
  double seconds = 0, fps = 0;
  int width = 0, height = 0;
  std::string decoder, encoder, remover, detector;
  int64_t frames_with_marks = 0;
  std::vector<std::string> fallbacks;  // each level given up, "stage: what -> instead: why"
  std::vector<std::string> streams_changed;  // input streams dropped or converted, and why
  StageTimes stages;
};

struct Progress {
  int64_t frames_done = 0;
  int64_t frames_total = 0;  // 0 when unknown
  double fps = 0;
  double eta_seconds = -1;   // < 0 when unknown
};
using ProgressFn = std::function<void(const Progress&)>;

// The report as JSON (the CLI's --json, the servers' job reports).
nlohmann::json to_json(const RunReport& report);

// Runs the job. `progress` is called from the encode thread, at most ~10 times a second and once
// at the end. Setting `*cancel` stops the run within a frame or two (Error{cancelled}).
RunReport run_remove(const RemoveJob& job, const ProgressFn& progress = {},
                     const std::atomic<bool>* cancel = nullptr);

}  // namespace unmark

#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "gpu/device.h"
#include "gpu/doctor.h"
#include "io/video_encoder.h"
#include "worker/local_api.h"
#include "worker/runpod_worker.h"

namespace unmark::cli {

namespace {

struct WorkerArgs {
  worker::WorkerOptions worker;
  worker::LocalApiOptions api;
  bool serve_api = false;
  double max_download_mb = 4096;
};

// What the worker checks before it takes a job, so a broken image fails at start, not on a
// user's job: the GPU and its tier, the doctor's fast checks, and an encoder that opens.
void self_check() {
  auto log = log_for("worker");
  const auto start = std::chrono::steady_clock::now();
  gpu::DoctorReport doctor = gpu::run_doctor(true);  // the doctor's fast checks, GPU query included
  if (const gpu::GpuInfo& card = doctor.card; card.present) {
    gpu::GpuTier tier = gpu::tier_for(card.total_bytes);
    log->info("Detected GPU: {} with {:.1f} GB VRAM", card.name, card.total_gb());
    log->info("{} GPU config: detect batch={}, inpaint batch={}, segment={}", tier.name, tier.detect_batch,
              tier.inpaint_batch, tier.segment);
  } else {
    log->info("gpu: none ({}): CPU path", card.why_not);
  }
  for (const gpu::DoctorCheck& c : doctor.checks)
    if (c.status == "fail") log->warn("self-check: {}: {}{}", c.name, c.detail, c.fix.empty() ? "" : " (fix: " + c.fix + ")");
  log->info("path: {}", doctor.path);
  std::string encoders;
  bool h264 = false;
  for (const EncoderInfo& e : list_video_encoders()) {
    encoders += (encoders.empty() ? "" : ", ") + e.name + (e.available ? " ok" : " unavailable");
    h264 |= e.available && (e.name == "x264" || e.name == "nvenc");
  }
  log->info("encoders: {}", encoders);
  if (!h264) throw Error("worker", ErrorKind::unsupported, "self-check failed: no H.264 encoder (x264 or nvenc) opens");
  log->info("self-check passed in {:.0f} ms",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

Command add_worker_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("worker", "Run as a RunPod serverless worker (or --serve-api: a local endpoint)");
  auto a = std::make_shared<WorkerArgs>();
  worker::HandlerOptions& h = a->worker.handler;
  h.data_dir = (std::filesystem::temp_directory_path() / "unmark-worker").string();
  h.storage.s3 = serve::s3_options_from_environment();
  sub->add_flag("--serve-api", a->serve_api, "Serve RunPod's endpoint API locally (/run, /runsync, /status/ID, ...)");
  sub->add_option("--host", a->api.host, "--serve-api: address to listen on")->default_val("127.0.0.1");
  sub->add_option("--port", a->api.port, "--serve-api: port (0: any free port)")->default_val(8000)->check(CLI::Range(0, 65535));
  sub->add_option("--port-file", a->api.port_file, "--serve-api: write the port here once listening");
  sub->add_option("--concurrency", a->api.concurrency, "--serve-api: jobs at once")->default_val(1)->check(CLI::Range(1, 64));
  sub->add_option("--data", h.data_dir, "Directory for jobs in progress and results not sent to S3");
  sub->add_option("--grace", a->worker.grace_s, "Seconds the job in hand may still run after SIGTERM")
      ->default_val(25)->check(CLI::Range(0.0, 3600.0));
  sub->add_option("--progress-interval", a->worker.progress_interval_s, "Seconds between progress posts")
      ->default_val(2)->check(CLI::Range(0.1, 600.0));
  sub->add_option("--allow-dir", h.storage.allow_dirs, "A directory file sources and targets may use (repeatable)")
      ->check(CLI::ExistingDirectory);
  sub->add_flag("--allow-private-urls", h.storage.allow_private_urls,
                "Let URL sources and a job's S3 endpoint reach loopback, private and link-local addresses");
  sub->add_option("--max-download-mb", a->max_download_mb, "Largest source download in MiB")->check(CLI::Range(1.0, 1e7));
  sub->add_option("--s3-endpoint", h.storage.s3.endpoint, "S3-compatible endpoint (default: AWS, or AWS_ENDPOINT_URL_S3)");
  sub->add_option("--s3-region", h.storage.s3.region, "S3 region");
  sub->add_flag("--s3-path-style,!--s3-virtual-host", h.storage.s3.path_style, "Address objects as endpoint/bucket/key");
  sub->add_option("--presign-ttl", h.storage.s3.presign_ttl_s, "Seconds a result's presigned URL stays valid")
      ->check(CLI::Range(1, 604800));
  return [a] {
    worker::HandlerOptions& h = a->worker.handler;
    h.storage.max_download_bytes = int64_t(a->max_download_mb * 1024 * 1024);
    std::filesystem::create_directories(h.data_dir);
    h.data_dir = std::filesystem::absolute(h.data_dir).string();  // results are reported by path
    self_check();
    if (a->serve_api) {
      a->api.handler = h;
      return worker::run_local_api(a->api, g_cancel);
    }
    worker::RunpodEndpoints endpoints = worker::RunpodEndpoints::from_environment();
    return worker::run_runpod_worker(a->worker, endpoints, g_cancel);
  };
}

}  // namespace unmark::cli

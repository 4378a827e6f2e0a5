// `unmark worker`: RunPod's serverless worker protocol, natively (read from runpod-python's
// rp_job, rp_http, rp_ping and rp_scale modules):
//
//   take     GET  RUNPOD_WEBHOOK_GET_JOB ($ID = worker id) + job_in_progress=0|1
//            200 {"id", "input"} is a job; 204 or 400: none; 429: wait ~5 s; 5xx/network: back off
//   result   POST RUNPOD_WEBHOOK_POST_OUTPUT ($ID = job id, $RUNPOD_POD_ID = worker id)
//            {"output": ...} or {"output": ..., "error": "..."}; retried on 5xx
//   progress POST the same URL: {"status": "IN_PROGRESS", "output": {...}} (not taken as the result)
//   ping     GET  RUNPOD_WEBHOOK_PING ($RUNPOD_POD_ID) ?job_id=<ids in progress>, every
//            RUNPOD_PING_INTERVAL ms, on its own thread
//   stop     GET  the take URL with /job-take/ -> /job-stop/ (long poll): 204 or {"jobsToStop": [ids]}
//
// Every request carries RUNPOD_AI_API_KEY raw in Authorization. One job at a time (a GPU's worth).
// SIGTERM: stop taking, let the job in hand finish within the grace period (else stop it), report
// it, exit 0.
#pragma once

#include <atomic>
#include <string>

#include "worker/job_handler.h"

namespace unmark::worker {

struct WorkerOptions {
  HandlerOptions handler;
  double grace_s = 25;             // after SIGTERM, how long the job in hand may still run
  double progress_interval_s = 2;  // progress posts at most this often
  double take_timeout_s = 90;      // the server may hold a take open this long
};

// The protocol's URLs and key, from RunPod's environment variables.
struct RunpodEndpoints {
  std::string take, done, stream, ping, stop, api_key, worker_id;
  int ping_interval_ms = 10000;
  // Throws Error{usage} naming what is missing.
  static RunpodEndpoints from_environment();
};

// Runs until `*stop` is set (SIGTERM); returns the process's exit code (0).
int run_runpod_worker(const WorkerOptions& options, const RunpodEndpoints& endpoints, const std::atomic<bool>& stop);

}  // namespace unmark::worker

// `unmark worker --serve-api`: the worker's jobs over HTTP in the shapes of a hosted RunPod
// endpoint, so a client written for one (curl, or the runpod SDK's Endpoint with
// RUNPOD_ENDPOINT_BASE_URL pointed here) works unchanged against a local worker:
//
//   POST /run {"input"}        -> {"id", "status": "IN_QUEUE"}
//   POST /runsync {"input"}    -> the finished job (or IN_PROGRESS after ?wait= ms, 90 s at most)
//   GET  /status/{id}          -> {"id", "status", "delayTime", "executionTime", "output" | "error"}
//   GET  /stream/{id}          -> {"status", "stream": [{"output"}]} (progress since the last call)
//   POST /cancel/{id}, POST /purge-queue, GET /health
//
// each also under any /{endpoint_id}/ prefix. Jobs live in memory, like the SDK's test server.
#pragma once

#include <atomic>
#include <string>

#include "worker/job_handler.h"

namespace unmark::worker {

struct LocalApiOptions {
  HandlerOptions handler;
  std::string host = "127.0.0.1";
  int port = 8000;          // 0: any free port
  std::string port_file;    // written with the port once listening
  int concurrency = 1;
};

int run_local_api(const LocalApiOptions& options, const std::atomic<bool>& stop);

}  // namespace unmark::worker

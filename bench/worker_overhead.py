#!/usr/bin/env python3
"""Cold start and per-job overhead of `unmark worker` against a local fake RunPod job server.

  bench/worker_overhead.py [VIDEO] [--runs 5]

Prints: exec -> first take request (ms), exec -> first job taken (the worker's own log line),
and for the same input the job's time in the worker (take -> result posted) next to a bare
`unmark remove` run, median of --runs. Standard library only.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "build", "unmark")


class Fake:
    def __init__(self):
        self.jobs, self.results, self.first_take, self.taken = [], {}, None, {}
        self.lock = threading.Lock()


def handler_for(fake):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            now = time.monotonic()
            if "/job-take/" in self.path:
                with fake.lock:
                    if fake.first_take is None:
                        fake.first_take = now
                    job = fake.jobs.pop(0) if fake.jobs else None
                if job:
                    fake.taken[job["id"]] = now
                    body = json.dumps(job).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                time.sleep(0.2)
            self.send_response(204)
            self.end_headers()

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            job_id = self.path.split("/")[-1].split("?")[0]
            if body.get("status") != "IN_PROGRESS":
                fake.results[job_id] = (time.monotonic(), body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=os.path.join(ROOT, "..", "shared", "media", "sora2_beach_480x872.mp4"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    video = os.path.abspath(args.video)
    if not os.path.exists(video):
        sys.exit(f"no video at {video}")
    fake = Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/v2"
    work = tempfile.mkdtemp(prefix="unmark-bench-")
    env = dict(os.environ, RUNPOD_WEBHOOK_GET_JOB=base + "/job-take/$ID?gpu=x",
               RUNPOD_WEBHOOK_POST_OUTPUT=base + "/job-done/$RUNPOD_POD_ID/$ID?gpu=x",
               RUNPOD_WEBHOOK_PING=base + "/ping/$RUNPOD_POD_ID", RUNPOD_PING_INTERVAL="10000",
               RUNPOD_AI_API_KEY="k", RUNPOD_POD_ID="bench")
    fake.jobs.append({"id": "job-0", "input": {"source": video}})
    start = time.monotonic()
    log = open(os.path.join(work, "worker.log"), "w")
    proc = subprocess.Popen([BINARY, "worker", "--data", work + "/data", "--allow-dir", os.path.dirname(video)],
                            env=env, stderr=log, stdout=log)
    while "job-0" not in fake.results:
        time.sleep(0.01)
    first_take_ms = (fake.first_take - start) * 1000
    worker_times = [fake.results["job-0"][0] - fake.taken["job-0"]]
    for i in range(1, args.runs):
        fake.jobs.append({"id": f"job-{i}", "input": {"source": video}})
        while f"job-{i}" not in fake.results:
            time.sleep(0.01)
        worker_times.append(fake.results[f"job-{i}"][0] - fake.taken[f"job-{i}"])
    proc.terminate()
    proc.wait(timeout=30)
    cli_times = []
    for i in range(args.runs):
        t = time.monotonic()
        subprocess.run([BINARY, "-q", "remove", video, "-o", os.path.join(work, "cli.mp4")], check=True)
        cli_times.append(time.monotonic() - t)
    taken_line = next((l for l in open(os.path.join(work, "worker.log")) if "first job taken" in l), "").strip()
    ok = fake.results["job-0"][1].get("output", {}).get("status")
    print(f"input: {video}")
    print(f"exec -> first take request: {first_take_ms:.0f} ms ({taken_line})")
    w, c = statistics.median(worker_times), statistics.median(cli_times)
    print(f"job in the worker (take -> result posted): median {w:.2f} s over {args.runs}; first job: {ok}")
    print(f"bare `unmark remove` (exec -> exit):        median {c:.2f} s over {args.runs}")
    print(f"per-job overhead: {(w - c) * 1000:+.0f} ms ({(w / c - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Load check of `unmark serve`: status requests at a fixed rate while jobs run.

    bench/serve_load.py [--rate 200] [--seconds 10] [--jobs 2] [CLIP]

Starts build/unmark serve on a free port with a fresh data directory, submits JOBS jobs on CLIP
(default: the shared Sora clip), then sends RATE GET /api/v1/jobs/ID requests per second for
SECONDS seconds (keep-alive connections, 8 client threads) and prints errors and p50/p99 latency.
It also prints the time from submit to processing start, and each job's fps with JOBS at once
against one job alone on the same clip.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(data, concurrency):
    port_file = os.path.join(data, "port")
    proc = subprocess.Popen([os.path.join(ROOT, "build", "unmark"), "serve", "--port", "0", "--port-file", port_file,
                             "--data", os.path.join(data, "db"), "--allow-dir", "/", "--concurrency", str(concurrency)],
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(port_file):
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    raise SystemExit("server did not start")


def call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def run_jobs(port, clip, n):
    ids = [call(port, "POST", "/api/v1/jobs", {"source_uri": clip})[1]["id"] for _ in range(n)]
    return ids


def wait_all(port, ids):
    jobs = {}
    while len(jobs) < len(ids):
        for i in ids:
            if i in jobs:
                continue
            _, j = call(port, "GET", "/api/v1/jobs/" + i)
            if j["status"] in ("completed", "failed", "cancelled"):
                jobs[i] = j
        time.sleep(0.1)
    return [jobs[i] for i in ids]


def parse_time(t):
    return time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + float(t[19:-1] or 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("clip", nargs="?", default=os.path.join(ROOT, "..", "shared", "media", "sora2_beach_480x872.mp4"))
    a = ap.parse_args()
    clip = os.path.abspath(a.clip)
    with tempfile.TemporaryDirectory() as tmp:
        # One job alone, for the concurrency comparison.
        proc, port = start_server(os.path.join(tmp), 1)
        try:
            alone = wait_all(port, run_jobs(port, clip, 1))[0]
        finally:
            proc.terminate()
            proc.wait()
        os.remove(os.path.join(tmp, "port"))
        proc, port = start_server(tmp, a.jobs)
        try:
            t0 = time.time()
            ids = run_jobs(port, clip, a.jobs)
            latencies, errors = [], [0]
            lock = threading.Lock()
            per_thread = a.rate / 8.0
            end = time.time() + a.seconds

            def client():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                k = 0
                start = time.time()
                while time.time() < end:
                    due = start + k / per_thread
                    if due > time.time():
                        time.sleep(due - time.time())
                    k += 1
                    t = time.perf_counter()
                    try:
                        conn.request("GET", "/api/v1/jobs/" + ids[k % len(ids)])
                        r = conn.getresponse()
                        r.read()
                        ok = r.status == 200
                    except Exception:
                        ok = False
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    dt = time.perf_counter() - t
                    with lock:
                        latencies.append(dt)
                        if not ok:
                            errors[0] += 1

            threads = [threading.Thread(target=client) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            jobs = wait_all(port, ids)
        finally:
            proc.terminate()
            proc.wait()
    latencies.sort()
    n = len(latencies)
    print(f"status requests: {n} in {a.seconds:.0f} s ({n / a.seconds:.0f}/s), errors {errors[0]}, "
          f"p50 {latencies[n // 2] * 1000:.2f} ms, p99 {latencies[int(n * 0.99)] * 1000:.2f} ms")
    starts = [parse_time(j["started_at"]) - parse_time(j["created_at"]) for j in jobs]
    print("submit to processing start: " + ", ".join(f"{s * 1000:.0f} ms" for s in starts))
    print(f"one job alone: {alone['report']['fps']:.1f} fps; {a.jobs} at once: " +
          ", ".join(f"{j['report']['fps']:.1f}" for j in jobs) +
          f" fps (together {sum(j['report']['fps'] for j in jobs):.1f})")
    print("statuses: " + ", ".join(j["status"] for j in jobs))


if __name__ == "__main__":
    sys.exit(main())

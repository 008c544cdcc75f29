"""A bounded load test of ``python -m fer_keras.serve`` on loopback, next to the CLI's speed.

    python -m fer_keras.serve_load --clients 8 --requests 400 [--fast] --out results/serve/load.md

Starts the server on 127.0.0.1 (a free port), warms it up with one request per client, then
``--clients`` threads, each with its own keep-alive connection, send ``--requests`` uploads of one
photo in all (scikit-image's astronaut: one face) and time each. Reported: requests/s, p50 / p95 /
p99 latency, errors (a non-200 answer, a wrong face count or a failed connection), the server's
RSS before and after the run and its peak (Linux ``/proc``). Then ``python -m fer_keras.predict``
on as many copies of the photo, for its faces/s on the same machine. Exit status 1 when any
request failed or the RSS grew by more than ``--max-growth-mb``.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fer_keras.cli import ArgumentParser


def rss_mb(pid):
    """``(current RSS, peak RSS)`` of a process, in MB, from ``/proc/<pid>/status``."""
    status = Path(f"/proc/{pid}/status").read_text()
    value = {k: int(re.search(rf"{k}:\s+(\d+) kB", status).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}
    return value["VmRSS"], value["VmHWM"]


def start_server(fast):
    server = subprocess.Popen([sys.executable, "-m", "fer_keras.serve", "--port", "0", *(["--fast"] if fast else [])],
                              stderr=subprocess.PIPE, text=True)
    lines = []
    while not (lines and lines[-1].startswith("serving")):
        line = server.stderr.readline()
        if not line:
            raise SystemExit("the server did not start:\n" + "".join(lines))
        lines.append(line)
    threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its stderr drained
    host, port = re.search(r"http://([\d.]+):(\d+)/", lines[-1]).groups()
    return server, host, int(port)


def multipart(photo, boundary="fer-load"):
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + photo + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def client(host, port, body, content_type, take, faces):
    """Send requests while ``take()`` allows; ``[(seconds, ok)]``."""
    results, conn = [], None
    while take():
        start = time.perf_counter()
        try:
            conn = conn or http.client.HTTPConnection(host, port, timeout=300)
            conn.request("POST", "/api/v1/emotions", body, {"Content-Type": content_type})
            response = conn.getresponse()
            answer = response.read()
            ok = response.status == 200 and len(json.loads(answer)["faces"]) == faces
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            ok, conn = False, None
        results.append((time.perf_counter() - start, ok))
    return results


def run_load(host, port, photo, clients, requests):
    body, content_type = multipart(photo)
    left, lock = [requests], threading.Lock()

    def take():
        with lock:
            left[0] -= 1
            return left[0] >= 0

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(lambda _: client(host, port, body, content_type, take, 1), range(clients)))
    wall = time.perf_counter() - start
    latencies = np.array([s for run in runs for s, _ in run]) * 1000
    errors = sum(not ok for run in runs for _, ok in run)
    return {"requests": len(latencies), "wall_s": wall, "requests_per_s": len(latencies) / wall, "errors": errors,
            **{f"p{q}_ms": float(np.percentile(latencies, q)) for q in (50, 95, 99)},
            "max_ms": float(latencies.max())}


def cli_faces_per_s(photo, n, fast):
    """The faces/s that ``python -m fer_keras.predict`` reports on ``n`` copies of the photo."""
    with tempfile.TemporaryDirectory() as folder:
        for i in range(n):
            Path(folder, f"{i:04d}.jpg").write_bytes(photo)
        result = subprocess.run([sys.executable, "-m", "fer_keras.predict", folder, *(["--fast"] if fast else [])],
                                capture_output=True, text=True, timeout=3600)
    summary = [line for line in result.stderr.splitlines() if line.startswith("summary:")]
    if result.returncode or not summary:
        raise SystemExit("the CLI failed:\n" + result.stderr[-2000:])
    return float(re.search(r"([\d.]+) faces/s", summary[0]).group(1)), summary[0]


def report(args, load, rss, cli):
    model = "FERNet-S int8 TFLite (--fast)" if args.fast else "FERNet-S (.keras)"
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    lines = [
        "# Load test of the web app's API", "",
        f"`python -m fer_keras.serve_load --clients {args.clients} --requests {args.requests}"
        f"{' --fast' if args.fast else ''} --cli-images {args.cli_images}{f' --out {args.out}' if args.out else ''}` "
        "(run under `nice -n 19`)", "",
        f"Server: `python -m fer_keras.serve --port 0{' --fast' if args.fast else ''}` on 127.0.0.1, {model}, "
        f"Haar detector; each request uploads scikit-image's astronaut as JPEG (512×512, one face). "
        f"Machine: {os.cpu_count()} CPU cores, load average {loadavg} at the end of the run (other jobs share them).",
        "", "| clients | requests | requests/s (= faces/s) | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {args.clients} | {load['requests']} | {load['requests_per_s']:.1f} | {load['p50_ms']:.0f} | "
        f"{load['p95_ms']:.0f} | {load['p99_ms']:.0f} | {load['max_ms']:.0f} | {load['errors']} |", "",
        "| server RSS | MB |", "| --- | ---: |",
        f"| after start-up and warm-up | {rss['before'][0]:.0f} |", f"| after the run | {rss['after'][0]:.0f} |",
        f"| growth over the run | {rss['after'][0] - rss['before'][0]:+.0f} (bound: {args.max_growth_mb:.0f}) |",
        f"| peak (VmHWM) | {rss['after'][1]:.0f} |", ""]
    if cli:
        rate, summary = cli
        timing = re.search(r"faces/s [(]([^)]*)", summary).group(1)
        lines += [f"The CLI on the same machine, same run, {args.cli_images} copies of the photo: "
                  f"`python -m fer_keras.predict FOLDER{' --fast' if args.fast else ''}` → **{rate:.1f} faces/s** "
                  f"({timing}); the server answers {load['requests_per_s']:.1f} requests "
                  f"(faces)/s, {load['requests_per_s'] / rate:.2f}× the CLI: each request pays for HTTP, a JPEG "
                  "decode and a model call of one face, where the CLI classifies 64 faces per call.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = ArgumentParser(prog="python -m fer_keras.bench.serve_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=400, help="requests in all (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="serve the int8 TFLite copy")
    parser.add_argument("--cli-images", type=int, default=200,
                        help="photos for the CLI's faces/s, 0 to skip it (default: %(default)s)")
    parser.add_argument("--max-growth-mb", type=float, default=50, help="RSS growth allowed (default: %(default)s)")
    parser.add_argument("--out", help="write the Markdown report here too")
    args = parser.parse_args(argv)
    import cv2
    from skimage import data as samples

    photo = cv2.imencode(".jpg", cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()
    server, host, port = start_server(args.fast)
    try:
        run_load(host, port, photo, args.clients, args.clients)  # warm-up: every connection, the model's first calls
        rss = {"before": rss_mb(server.pid)}
        load = run_load(host, port, photo, args.clients, args.requests)
        rss["after"] = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(60)
    cli = cli_faces_per_s(photo, args.cli_images, args.fast) if args.cli_images else None
    text = report(args, load, rss, cli)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    growth = rss["after"][0] - rss["before"][0]
    return 1 if load["errors"] or growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())

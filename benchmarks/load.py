"""Load test: start the app, drive it with N concurrent gradio_client clients for a bounded time
over loopback, print one JSON line.

    python -m benchmarks.load --clients 32 --seconds 60
    python -m benchmarks.load --clients 8 --seconds 300 --warmup 30   # soak: RSS after warm-up vs end
    python -m benchmarks.load --live --clients 30 --seconds 120       # a class drawing live, app and echo app

The first two send `--image` to /predict back to back (requests, failures, throughput, p50/p99
latency, server RSS). `--live` is a class drawing at once: each client draws a number stroke by
stroke on the Sketchpad and sends the canvas so far to /predict_sketch after every stroke, as the
page does (background, stroke layer and composite, three PNG uploads), then takes 1-2 s over its
next stroke once the answer is back. The same class then draws on the echo app
(benchmarks/echo_app.py); for both: failures, p50/p95 time to answer, and the server's CPU time
per request (the clients share the machine's cores, so throughput alone would mislead).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.common import environment, scratch_folder, write_result
from mnist_demo.pen import draw_pen
from mnist_demo.ui import BRUSH_SIZE, CANVAS_SIZE, MAX_QUEUE, SERVING_CONCURRENCY

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE = REPO_ROOT / "examples" / "drawn_3.png"
TARGET_P95_S = 1.5  # live class: stroke to answer, 95th percentile
STROKE_PAUSE_S = (1.0, 2.0)  # how long a pupil takes over the next stroke, after seeing the answer
# What each pupil writes, one stroke at a time, left to right across the canvas (points as fractions
# of its width and height): 7, 1, 2, 3, then the canvas is cleared and the number begun again.
NUMBER = "7123"
NUMBER_STROKES = [
    [(0.08, 0.2), (0.24, 0.2), (0.13, 0.8)],
    [(0.36, 0.2), (0.36, 0.8)],
    [(0.50, 0.3), (0.57, 0.2), (0.64, 0.3), (0.50, 0.8), (0.66, 0.8)],
    [(0.76, 0.2), (0.90, 0.25), (0.81, 0.5), (0.90, 0.7), (0.76, 0.8)],
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_megabytes(pid: int) -> float:
    """Resident memory of a process from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def wait_until_up(server: subprocess.Popen, port: int, timeout: float = 120) -> None:
    """Return once the server answers on `port`; kill it and raise if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server on port {port} did not start")


def start_app(port: int, log: Path | None = None, command: tuple[str, ...] = ("app.py",),
              env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python app.py` (or another `command`) on `port`, returned once it answers; its output goes
    to `log` or nowhere; `env` is added to this process's environment."""
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    output = log.open("w") if log else subprocess.DEVNULL
    server = subprocess.Popen([sys.executable, *command, "--port", str(port)], cwd=REPO_ROOT, env=environment,
                              stdout=output, stderr=subprocess.STDOUT)
    wait_until_up(server, port)
    return server


def drive(url: str, image: Path, stop_at: float, latencies: list[float], failures: list[str],
          lock: threading.Lock, downloads: str) -> None:
    """One client (gradio_client is not safe to share across threads), requests back to back.
    Plain HTTP over loopback, so no certificates to check: gradio_client opens a new httpx client
    for every upload, request and download, and loading the CA certificates for each was 80% of
    the clients' CPU time, taken from the server they share the machine with."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=downloads, ssl_verify=False)
    while time.monotonic() < stop_at:
        start = time.perf_counter()
        try:
            number, *_ = client.predict(handle_file(str(image)), api_name="/predict")
            ok = bool(number)
        except Exception as error:  # noqa: BLE001 - every failure counts, whatever its kind
            ok, reason = False, f"{type(error).__name__}: {error}"
        else:
            reason = "no number read"
        with lock:
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                failures.append(reason)


@dataclass(frozen=True)
class SketchFiles:
    """The Sketchpad's value after some strokes, as the PNGs the page uploads."""

    background: Path
    layer: Path
    composite: Path

    def value(self) -> dict[str, Any]:
        """The /predict_sketch argument: gradio_client uploads each file."""
        from gradio_client import handle_file

        return {"background": handle_file(str(self.background)), "layers": [handle_file(str(self.layer))],
                "composite": handle_file(str(self.composite))}


def number_sketches(folder: Path) -> list[SketchFiles]:
    """NUMBER drawn stroke by stroke with the page's brush on its canvas: one Sketchpad value per stroke."""
    width, height = CANVAS_SIZE
    background = folder / "background.png"
    Image.new("RGBA", CANVAS_SIZE, "white").save(background)
    sketches = []
    for count in range(1, len(NUMBER_STROKES) + 1):
        paths = [np.array(stroke) * (width, height) for stroke in NUMBER_STROKES[:count]]
        ink = np.round(255 * draw_pen(paths, BRUSH_SIZE, CANVAS_SIZE)).astype(np.uint8)
        layer = np.zeros((height, width, 4), dtype=np.uint8)
        layer[..., 3] = ink
        composite = np.repeat(255 - ink[..., None], 3, axis=2)
        files = SketchFiles(background, folder / f"layer_{count}.png", folder / f"composite_{count}.png")
        Image.fromarray(layer).save(files.layer)
        Image.fromarray(composite).save(files.composite)
        sketches.append(files)
    return sketches


def draw_live(url: str, sketches: list[SketchFiles], seed: int, stop_at: float, answers: list[tuple[float, float]],
              failures: list[str], lock: threading.Lock, downloads: str) -> None:
    """One pupil: a stroke, its answer awaited, 1-2 s over the next stroke; (when, seconds) per answer."""
    from gradio_client import Client

    rng = random.Random(seed)
    client = Client(url, verbose=False, download_files=downloads, ssl_verify=False)
    time.sleep(rng.uniform(*STROKE_PAUSE_S))  # a class does not start in step
    for sketch in itertools.cycle(sketches):
        if time.monotonic() >= stop_at:
            return
        start = time.perf_counter()
        try:
            number, *_ = client.predict(sketch.value(), api_name="/predict_sketch")
            reason = None if number else "no number read"
        except Exception as error:  # noqa: BLE001 - every failure counts, whatever its kind
            reason = f"{type(error).__name__}: {error}"
        with lock:
            if reason is None:
                answers.append((time.monotonic(), time.perf_counter() - start))
            else:
                failures.append(reason)
        time.sleep(rng.uniform(*STROKE_PAUSE_S))


def live_class(url: str, server: subprocess.Popen, sketches: list[SketchFiles], clients: int, seconds: float,
               warmup: float, downloads: str) -> dict[str, Any]:
    """`clients` pupils drawing on the server at `url` for `warmup` + `seconds`; figures from after the warm-up."""
    answers: list[tuple[float, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + warmup + seconds
    threads = [threading.Thread(target=draw_live, args=(url, sketches, seed, stop_at, answers, failures, lock,
                                                        downloads)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    counted_from, cpu_start, client_cpu_start = time.monotonic(), cpu_seconds(server.pid), time.process_time()
    for thread in threads:
        thread.join()
    cpu_end, client_cpu_end = cpu_seconds(server.pid), time.process_time()
    measured = sorted(seconds for when, seconds in answers if when >= counted_from)
    p95 = measured[min(len(measured) - 1, int(0.95 * len(measured)))]
    return {"answers": len(measured), "failures": len(failures), "first_failures": failures[:3],
            "answers_per_s": round(len(measured) / seconds, 2),
            "p50_ms": round(1000 * statistics.median(measured), 1), "p95_ms": round(1000 * p95, 1),
            "max_ms": round(1000 * measured[-1], 1),
            "server_cpu_ms_per_answer": round(1000 * (cpu_end - cpu_start) / len(measured), 1),
            "clients_cpu_ms_per_answer": round(1000 * (client_cpu_end - client_cpu_start) / len(measured), 1)}


def run_live(args: argparse.Namespace) -> None:
    """The class on the app, then on the echo app; one JSON object."""
    results = {}
    with tempfile.TemporaryDirectory() as folder, scratch_folder() as downloads:
        sketches = number_sketches(Path(folder))
        echo = ("-m", "benchmarks.echo_app", "--image", str(sketches[0].composite))  # the app's answer to one digit
        for name, command in [("app", ("app.py",)), ("echo", echo)]:
            port = free_port()
            server = start_app(port, args.server_log, command=command, env={"GRADIO_TEMP_DIR": downloads})
            try:
                results[name] = live_class(f"http://127.0.0.1:{port}/", server, sketches, args.clients, args.seconds,
                                           args.warmup, downloads)
            finally:
                server.terminate()
                server.wait(timeout=30)
    met = results["app"]["failures"] == 0 and results["app"]["p95_ms"] <= 1000 * TARGET_P95_S
    write_result({
        "benchmark": "load_live_class",
        **environment(),
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "stroke_pause_s": STROKE_PAUSE_S,
        "drawing": f"{NUMBER} on the {CANVAS_SIZE[0]}x{CANVAS_SIZE[1]} Sketchpad, one stroke per request",
        "serving": {"concurrency": SERVING_CONCURRENCY, "max_queue": MAX_QUEUE},
        **results,
        "target": {"failures": 0, "p95_ms": 1000 * TARGET_P95_S, "met": met},
    }, args.out)


def run_back_to_back(args: argparse.Namespace) -> None:
    """`--clients` clients sending `--image` to /predict back to back; one JSON object."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    with scratch_folder() as downloads:
        server = start_app(port, args.server_log, env={"GRADIO_TEMP_DIR": downloads})
        try:
            rss_idle = rss_megabytes(server.pid)
            stop_at = time.monotonic() + args.warmup + args.seconds
            jobs = (url, args.image, stop_at, latencies, failures, lock, downloads)
            threads = [threading.Thread(target=drive, args=jobs) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(args.warmup)
            rss_start, counted_from = rss_megabytes(server.pid), len(latencies)
            for thread in threads:
                thread.join()
            rss_end = rss_megabytes(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    measured = sorted(latencies[counted_from:]) or [float("nan")]
    write_result({
        "benchmark": "load",
        **environment(),
        "clients": args.clients,
        "seconds": args.seconds,
        "requests": len(latencies) + len(failures),
        "failures": len(failures),
        "first_failures": failures[:3],
        "throughput_per_s": round(len(measured) / args.seconds, 2),
        "p50_ms": round(1000 * statistics.median(measured), 1),
        "p99_ms": round(1000 * measured[min(len(measured) - 1, int(0.99 * len(measured)))], 1),
        "rss_idle_mb": round(rss_idle, 1),
        "rss_after_warmup_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1),
    }, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", help="a class drawing live, on the app then the echo app")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, one thread each")
    parser.add_argument("--seconds", type=float, default=60, help="how long to drive the app")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before measuring")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="what the back-to-back clients send")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--server-log", type=Path, default=None, help="write the app's output here")
    args = parser.parse_args()
    if args.live:
        run_live(args)
    else:
        run_back_to_back(args)


if __name__ == "__main__":
    main()

"""Load test: start the app, drive /predict with N concurrent gradio_client clients for a bounded
time over loopback, print one JSON line (requests, failures, throughput, p50/p99 latency, server RSS).

    python -m benchmarks.load --clients 32 --seconds 60
    python -m benchmarks.load --clients 8 --seconds 300 --warmup 30   # soak: RSS after warm-up vs end
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.common import environment, scratch_folder, write_result

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE = REPO_ROOT / "examples" / "drawn_3.png"


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
    """One client (gradio_client is not safe to share across threads), requests back to back."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=downloads)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, one thread each")
    parser.add_argument("--seconds", type=float, default=60, help="how long to drive the app")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before the start RSS is read")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--server-log", type=Path, default=None, help="write the app's output here")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()

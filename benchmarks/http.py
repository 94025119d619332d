"""HTTP round trip and throughput of the running app against its echo floor (benchmarks/echo_app.py:
the same app answering a fixed result), side by side in one run, with gradio_client over loopback.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.http --out benchmarks/results/http.json

Round trip: one client, requests alternating between the app and the echo app. Throughput:
8 concurrent clients (one `Client` per thread) on the app, then on the echo app.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from benchmarks.common import environment, percentiles, scratch_folder, write_result
from benchmarks.load import free_port, start_app
from benchmarks.synthetic import as_sketchpad, pen_drawing, place
from mnist_demo.data import load_digits, resolve_data_dir

TARGET_RATIO = 1.3  # the app's p50 over the echo app's


def sketch_png(folder: Path) -> Path:
    """An 800x800 drawing of an MNIST test digit, as the PNG a user would upload."""
    digit = load_digits(resolve_data_dir(None), train=False).images[0].numpy()
    ink, _ = place(pen_drawing(digit, 400, 28), (800, 800), (0.5, 0.5))
    path = folder / "sketch_800.png"
    Image.fromarray(as_sketchpad(ink)["composite"]).convert("RGB").save(path)
    return path


def round_trips(urls: dict[str, str], image: Path, requests: int, downloads: str) -> dict[str, dict[str, float]]:
    from gradio_client import Client, handle_file

    clients = {name: Client(url, verbose=False, download_files=downloads) for name, url in urls.items()}
    times: dict[str, list[float]] = {name: [] for name in urls}
    for index in range(requests + 5):
        for name, client in clients.items():
            start = time.perf_counter()
            client.predict(handle_file(str(image)), api_name="/predict")
            if index >= 5:  # warm-up
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: percentiles(values) for name, values in times.items()}


def throughput(url: str, image: Path, clients: int, seconds: float, downloads: str) -> dict[str, float]:
    from gradio_client import Client, handle_file

    done, failed, lock = [], [], threading.Lock()
    stop_at = time.monotonic() + seconds

    def drive() -> None:
        client = Client(url, verbose=False, download_files=downloads)
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                client.predict(handle_file(str(image)), api_name="/predict")
            except Exception as error:  # noqa: BLE001 - counted, whatever its kind
                with lock:
                    failed.append(repr(error))
                continue
            with lock:
                done.append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=drive) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"requests_per_s": round(len(done) / seconds, 2), "failures": len(failed), **percentiles(done or [0.0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="round trips to each app")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for throughput")
    parser.add_argument("--seconds", type=float, default=30, help="throughput run per app")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, scratch_folder() as downloads:
        image = sketch_png(Path(folder))
        ports = {"app": free_port(), "echo": free_port()}
        scratch = {"GRADIO_TEMP_DIR": downloads}
        servers = [start_app(ports["app"], env=scratch),
                   start_app(ports["echo"], command=("-m", "benchmarks.echo_app", "--image", str(image)), env=scratch)]
        try:
            urls = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
            trips = round_trips(urls, image, args.requests, downloads)
            rates = {name: throughput(url, image, args.clients, args.seconds, downloads) for name, url in urls.items()}
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    ratio = trips["app"]["p50"] / trips["echo"]["p50"]
    write_result({"benchmark": "http", **environment(), "input": "800x800 PNG upload to /predict",
                  "round_trip_ms": trips, "p50_ratio": round(ratio, 3),
                  "throughput": {"clients": args.clients, "seconds": args.seconds, **rates},
                  "target": {"p50_ratio": TARGET_RATIO, "met": ratio <= TARGET_RATIO}}, args.out)


if __name__ == "__main__":
    main()

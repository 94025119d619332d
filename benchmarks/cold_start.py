"""Cold start: from `python app.py` to the page answering (the target), and on to the first
successful /predict, in seconds (medians of a few starts).

    python -m benchmarks.cold_start --out benchmarks/results/cold_start.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from benchmarks.common import environment, scratch_folder, write_result
from benchmarks.load import DEFAULT_IMAGE, REPO_ROOT, free_port

TARGET_S = 10.0  # to the page answering


def one_start(downloads: str) -> dict[str, float]:
    from gradio_client import Client, handle_file

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO_ROOT,
                              env={**os.environ, "GRADIO_TEMP_DIR": downloads},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - began > 120:
                    raise RuntimeError("app.py did not start") from None
                time.sleep(0.05)
        page = time.perf_counter() - began
        client = Client(url, verbose=False, download_files=downloads)
        number, *_ = client.predict(handle_file(str(DEFAULT_IMAGE)), api_name="/predict")
        if not number:
            raise RuntimeError("the first /predict read no digit")
        return {"page_s": round(page, 2), "first_predict_s": round(time.perf_counter() - began, 2)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    with scratch_folder() as downloads:
        starts = [one_start(downloads) for _ in range(args.starts)]
    page = statistics.median(start["page_s"] for start in starts)
    write_result({"benchmark": "cold_start", **environment(), "starts": starts, "page_s_median": page,
                  "first_predict_s_median": statistics.median(start["first_predict_s"] for start in starts),
                  "target": {"page_s": TARGET_S, "met": page <= TARGET_S}}, args.out)


if __name__ == "__main__":
    main()

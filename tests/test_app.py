"""The app's handler, and the running app's public /predict endpoint through gradio_client (the page
itself: test_browser.py)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from benchmarks.common import scratch_folder
from benchmarks.load import free_port, start_app
from mnist_demo.inference import BLANK, Predictor
from mnist_demo.ui import CANVAS_SIZE, NO_INPUT, make_handler

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture
def downloads() -> Iterator[str]:
    """Where gradio_client puts the outputs it downloads; removed after the test."""
    with scratch_folder() as folder:
        yield folder


def top_label(label_output: dict) -> str:
    return str(label_output["label"])


def test_predict_endpoint_reads_an_example(app_url: str, downloads: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False, download_files=downloads)
    number, label, overlay, digit, readouts, status = client.predict(handle_file(str(EXAMPLES / "drawn_3.png")),
                                                                     api_name="/predict")
    assert top_label(number) == "3" and top_label(label) == "3"
    assert Path(overlay).is_file() and Path(digit).is_file()
    row, whole = [dict(zip(readouts["headers"], row, strict=True)) for row in readouts["data"]]
    assert float(row["mask Dice"]) > 0.97  # the mask is the drawing's own ink, at its resolution
    assert float(row["box IoU"]) > 0.8
    assert row["classifier"].startswith("3 (")
    assert whole["digit"] == "all" and float(whole["mask Dice"]) > 0.97
    assert status.startswith("Read 1 digit in ")


def test_predict_endpoint_reads_a_light_on_dark_example(app_url: str, downloads: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False, download_files=downloads)
    number, label, *_ = client.predict(handle_file(str(EXAMPLES / "light_on_dark_5.png")), api_name="/predict")
    assert top_label(number) == top_label(label) == "5"


def test_an_emptied_canvas_empties_the_outputs_quietly_and_a_blank_upload_is_told(
        predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    messages: list[str] = []
    monkeypatch.setattr(gr, "Info", messages.append)
    predict = make_handler(predictor)
    cleared = np.zeros((CANVAS_SIZE[1], CANVAS_SIZE[0], 4), dtype=np.uint8)  # what the Sketchpad sends after a clear
    assert predict({"background": cleared, "layers": [cleared], "composite": cleared}) == (
        None, None, None, None, [], NO_INPUT)
    assert not messages
    white = tmp_path / "white.png"
    Image.new("RGB", (200, 200), "white").save(white)
    *_, status = predict(str(white))
    assert messages == [BLANK] and BLANK in status


ENDPOINT_CASES = ["empty file", "text file named .png", "truncated PNG", "decompression bomb (20000x20000, a few kB)",
                  "one dot", "all black", "16-bit grey PNG", "animated GIF (first frame read)"]


@pytest.mark.parametrize("name", ENDPOINT_CASES)
def test_endpoint_answers_bad_inputs_and_keeps_serving(app_url: str, name: str, tmp_path: Path,
                                                       downloads: str) -> None:
    from gradio_client import Client, handle_file

    from benchmarks.hostile import CASES

    (case,) = [case for case in CASES if case.name == name]
    client = Client(app_url, verbose=False, download_files=downloads)
    number, label, overlay, digit, readouts, status = client.predict(handle_file(str(case.build(tmp_path))),
                                                                     api_name="/predict")
    if case.expect == "number":
        assert top_label(number) == case.text, status
    else:
        assert not number and not label and not readouts["data"]  # an empty Label arrives as {}
        assert case.text in status, status
    # the server is still up and the next ordinary request is read
    number, *_ = client.predict(handle_file(str(EXAMPLES / "drawn_3.png")), api_name="/predict")
    assert top_label(number) == "3"


def test_eight_clients_at_once_all_get_answers(app_url: str, downloads: str) -> None:
    """A short concurrency check (the load benchmark is benchmarks/load.py): 8 clients, one
    `Client` per thread as gradio_client requires, for 10 seconds; every request answered."""
    from benchmarks.load import drive

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 10
    jobs = (app_url, EXAMPLES / "drawn_3.png", stop_at, latencies, failures, lock, downloads)
    threads = [threading.Thread(target=drive, args=jobs) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    assert len(latencies) >= 8


def test_serving_writes_only_to_the_temp_folder_and_cleans_it(tmp_path: Path, downloads: str) -> None:
    """With files kept 2 s, everything a request wrote under GRADIO_TEMP_DIR is gone a few seconds
    later, and nothing was written in the repository."""
    from gradio_client import Client, handle_file

    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO_ROOT, capture_output=True,
                            text=True).stdout
    temp = tmp_path / "gradio"
    port = free_port()
    server = start_app(port, env={"GRADIO_TEMP_DIR": str(temp), "MNIST_DEMO_CACHE_SECONDS": "2",
                                  "MNIST_DEMO_DEVICE": "cpu"})
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=downloads)
        at_start = {path for path in temp.rglob("*") if path.is_file()}  # the examples, kept for the page
        for _ in range(3):
            number, *_ = client.predict(handle_file(str(EXAMPLES / "drawn_3.png")), api_name="/predict")
            assert top_label(number) == "3"
        written = [path for path in temp.rglob("*") if path.is_file() and path not in at_start]
        assert written, "the uploads and rendered images go to GRADIO_TEMP_DIR"
        deadline = time.monotonic() + 15
        while any(path.exists() for path in written) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [path for path in written if path.exists()]
    finally:
        server.terminate()
        server.wait(timeout=30)
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO_ROOT, capture_output=True,
                           text=True).stdout
    assert after == before

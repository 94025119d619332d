"""The running app: the public /predict endpoint through gradio_client, and a real browser."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.common import scratch_folder
from benchmarks.load import free_port, start_app

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py` on a free port, the way people start it; stopped after the module."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    temp = tmp_path_factory.mktemp("gradio")  # the app's uploads and outputs
    try:
        server = start_app(port, log, env={"MNIST_DEMO_DEVICE": "cpu", "GRADIO_TEMP_DIR": str(temp)})
    except RuntimeError:
        pytest.fail(f"app.py did not start; see {log}")
    url = f"http://127.0.0.1:{port}/"
    yield url
    server.terminate()
    server.wait(timeout=30)


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
    (row,) = [dict(zip(readouts["headers"], row, strict=True)) for row in readouts["data"]]
    assert float(row["mask Dice"]) > 0.8
    assert float(row["box IoU"]) > 0.8
    assert row["classifier"].startswith("3 (")
    assert status.startswith("Read 1 digit in ")


def test_predict_endpoint_reads_a_light_on_dark_example(app_url: str, downloads: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False, download_files=downloads)
    number, label, *_ = client.predict(handle_file(str(EXAMPLES / "light_on_dark_5.png")), api_name="/predict")
    assert top_label(number) == top_label(label) == "5"


def draw(page, element, strokes: list[list[tuple[float, float]]]) -> None:  # noqa: ANN001
    """Mouse strokes over `element`, points as fractions of its width and height."""
    box = element.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()


@pytest.mark.browser
def test_browser_draw_then_upload(app_url: str) -> None:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (make test installs it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        canvas = page.locator("#sketchpad canvas").first
        expect(canvas).to_be_visible(timeout=30_000)
        # A 7, drawn without choosing any tool first: the brush must already be selected.
        draw(page, canvas, [[(0.10, 0.2), (0.30, 0.2), (0.17, 0.8)]])
        number = page.locator("#number .output-class")  # gr.Label's headline
        expect(number).to_have_text("7", timeout=30_000)
        expect(page.locator("#label .output-class")).to_have_text("7", timeout=10_000)
        readouts = page.locator("#readouts")
        expect(readouts).to_contain_text("mask Dice", timeout=10_000)
        assert "box IoU" in readouts.inner_text()
        # then a 1 beside it: the page reads the two-digit number 71
        draw(page, canvas, [[(0.45, 0.2), (0.45, 0.8)]])
        expect(number).to_have_text("71", timeout=30_000)
        expect(page.locator("#status")).to_contain_text("Read 2 digits", timeout=10_000)
        if os.environ.get("SCREENSHOT"):
            page.screenshot(path=os.environ["SCREENSHOT"], full_page=True)
        page.get_by_role("tab", name="Upload").click()
        page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / "light_on_dark_5.png"))
        expect(number).to_have_text("5", timeout=30_000)
        browser.close()


ENDPOINT_CASES = ["empty file", "text file named .png", "truncated PNG", "decompression bomb (20000x20000, a few kB)",
                  "one dot", "all black", "16-bit grey PNG", "animated GIF (first frame read)"]


@pytest.mark.parametrize("name", ENDPOINT_CASES)
def test_endpoint_answers_bad_inputs_and_keeps_serving(app_url: str, name: str, tmp_path: Path,
                                                       downloads: str) -> None:
    from gradio_client import Client, handle_file

    from mnist_demo.hostile import CASES

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

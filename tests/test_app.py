"""The running app: the public /predict endpoint through gradio_client, and a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py` on a free port, the way people start it; stopped after the module."""
    port = free_port()
    log = (tmp_path_factory.mktemp("app") / "app.log").open("w")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "MNIST_DEMO_DEVICE": "cpu"}
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"app.py did not start; see {log.name}")
            time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


def top_label(label_output: dict) -> str:
    return str(label_output["label"])


def test_predict_endpoint_reads_an_example(app_url: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    label, overlay, digit, readouts = client.predict(handle_file(str(EXAMPLES / "drawn_3.png")), api_name="/predict")
    assert top_label(label) == "3"
    assert Path(overlay).is_file() and Path(digit).is_file()
    rows = {row[0]: row[1] for row in readouts["data"]}
    assert float(rows["mask Dice"]) > 0.8
    assert float(rows["box IoU"]) > 0.8
    assert rows["classifier"].startswith("3 (")


def test_predict_endpoint_reads_a_light_on_dark_example(app_url: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    label, *_ = client.predict(handle_file(str(EXAMPLES / "light_on_dark_5.png")), api_name="/predict")
    assert top_label(label) == "5"


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
        draw(page, canvas, [[(0.35, 0.25), (0.62, 0.25), (0.45, 0.75)]])
        readouts = page.locator("#readouts")
        expect(readouts).to_contain_text("mask Dice", timeout=30_000)
        top_class = page.locator("#label .output-class")  # gr.Label's headline: the top class
        expect(top_class).to_have_text("7", timeout=10_000)
        assert "box IoU" in readouts.inner_text() and "agree" in readouts.inner_text()
        if os.environ.get("SCREENSHOT"):
            page.screenshot(path=os.environ["SCREENSHOT"], full_page=True)
        page.get_by_role("tab", name="Upload").click()
        page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / "light_on_dark_5.png"))
        expect(top_class).to_have_text("5", timeout=30_000)
        browser.close()

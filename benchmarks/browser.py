"""Stroke to answer in a real browser: digits drawn with the mouse in Debian's headless Chromium,
timed from the mouse-up that ends the stroke to the number appearing on the page, on the app and
on its echo floor (benchmarks/echo_app.py: the same page answering a fixed result at once).

    python -m benchmarks.browser --out benchmarks/results/browser.json

Both pages stay open side by side and take turns, stroke by stroke, so that a slow spell of the
shared machine weighs on both alike. Before each stroke the canvas is cleared and its (emptied)
answer awaited; the stroke is one line, so its mouse-up is the last input. Both times are read
on the page's own clock: a capturing `pointerup` listener and a MutationObserver on the number.
Chromium paints the canvas in software here, so drawing takes seconds; only what follows the
mouse-up is timed.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from benchmarks.common import environment, percentiles, scratch_folder, write_result
from benchmarks.load import free_port, number_sketches, start_app
from mnist_demo.ui import BRUSH_BUTTON, CANVAS_SIZE, NO_INPUT
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, ONE, READ_MS, SEVEN, THREE, TWO, Strokes, draw

TARGET_RATIO = 1.3  # the app's median stroke-to-answer time over the echo app's
# One-stroke digits the models read reliably, drawn in turn.
DIGITS: list[tuple[str, Strokes]] = [("7", SEVEN), ("1", ONE), ("2", TWO), ("3", THREE)]
# Times, on the page's clock, of the last mouse-up and of the first change of the number read after it.
TIMER_JS = """
() => {
  window.strokeTimer = {up: null, answer: null};
  document.addEventListener('pointerup', () => { window.strokeTimer.up = performance.now(); }, true);
  const read = () => document.querySelector('#number .output-class')?.textContent.trim() || '';
  new MutationObserver(() => {
    const timer = window.strokeTimer;
    if (timer.up !== null && timer.answer === null && read()) timer.answer = performance.now();
  }).observe(document.querySelector('#number'), {subtree: true, childList: true, characterData: true});
}
"""
RESET_JS = "() => { window.strokeTimer.up = null; window.strokeTimer.answer = null; }"


def open_page(browser: Browser, url: str) -> Page:
    """The page in a context of its own (its own session), loaded, with the stroke timer in place."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    expect(page.locator("#sketchpad canvas").first).to_be_visible(timeout=30_000)
    expect(page.locator(BRUSH_BUTTON).first).to_be_visible(timeout=30_000)
    page.evaluate(TIMER_JS)
    return page


def stroke_to_answer(page: Page, strokes: Strokes, expected: str) -> tuple[float, str]:
    """Clear the canvas, wait for its emptied answer, draw `strokes`: milliseconds from the
    mouse-up to the number on the page, and the number read (`expected` on the app)."""
    page.bring_to_front()
    page.get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#status")).to_have_text(NO_INPUT, timeout=READ_MS)
    expect(page.locator("#number .output-class")).to_have_count(0, timeout=READ_MS)
    page.evaluate(RESET_JS)
    draw(page, page.locator("#sketchpad canvas").first, strokes)
    page.wait_for_function("() => window.strokeTimer.answer !== null", timeout=READ_MS, polling=50)
    up, answer = page.evaluate("() => [window.strokeTimer.up, window.strokeTimer.answer]")
    return answer - up, page.locator("#number .output-class").inner_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=20, help="timed strokes on each page")
    parser.add_argument("--warmup", type=int, default=2, help="untimed strokes on each page first")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"app": [], "echo": []}
    misread: list[str] = []
    with tempfile.TemporaryDirectory() as folder, scratch_folder() as downloads:
        image = number_sketches(Path(folder))[0].composite  # a 7 on the canvas: the echo shows its real answer
        ports = {"app": free_port(), "echo": free_port()}
        scratch = {"GRADIO_TEMP_DIR": downloads}
        servers = [start_app(ports["app"], env=scratch),
                   start_app(ports["echo"], command=("-m", "benchmarks.echo_app", "--image", str(image)), env=scratch)]
        started = time.monotonic()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
                pages = {name: open_page(browser, f"http://127.0.0.1:{port}/") for name, port in ports.items()}
                digits = itertools.cycle(DIGITS)
                for index in range(args.warmup + args.strokes):
                    expected, strokes = next(digits)
                    order = list(pages) if index % 2 == 0 else list(pages)[::-1]  # neither always goes first
                    for name in order:
                        elapsed, read = stroke_to_answer(pages[name], strokes, expected)
                        if index >= args.warmup:
                            times[name].append(elapsed)
                        if name == "app" and read != expected:
                            misread.append(f"drew {expected}, read {read}")
                browser.close()
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    ratio = statistics.median(times["app"]) / statistics.median(times["echo"])
    write_result({"benchmark": "browser", **environment(),
                  "browser": "Debian Chromium, headless, software-drawn canvas",
                  "input": f"one-line digits drawn with the mouse on the {CANVAS_SIZE[0]}x{CANVAS_SIZE[1]} Sketchpad",
                  "stroke_to_answer_ms": {name: percentiles(values) for name, values in times.items()},
                  "p50_ratio": round(ratio, 3), "app_misread": misread,
                  "minutes": round((time.monotonic() - started) / 60, 1),
                  "target": {"p50_ratio": TARGET_RATIO, "met": ratio <= TARGET_RATIO}}, args.out)


if __name__ == "__main__":
    main()

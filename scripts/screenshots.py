"""Take the README's screenshots of the page in Debian's headless Chromium: a number drawn with the
mouse (docs/screenshot.png) and examples/photo_2.jpg uploaded (docs/screenshot-photo.png), each
once the page shows what it read. Needs weights/ and /usr/bin/chromium; takes a minute or two.

    python -m scripts.screenshots
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.load import free_port, start_app
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, FOUR, READ_MS, TWO, Strokes, draw

REPO_ROOT = Path(__file__).resolve().parent.parent
DRAWING_SHOT = REPO_ROOT / "docs" / "screenshot.png"
PHOTO_SHOT = REPO_ROOT / "docs" / "screenshot-photo.png"
PHOTO = REPO_ROOT / "examples" / "photo_2.jpg"
PHOTO_NUMBER = "2"
VIEWPORT = {"width": 1280, "height": 1000}
MARGIN_PX = 16  # kept below the overlay row, where the screenshot is cut
COLORS = 256  # a palette PNG: the screenshots are committed, so they are kept small

# "42" as the browser test's mouse strokes (a 4 and a 2 the models read), the 2 moved right of the 4.
NUMBER = "42"
NUMBER_STROKES: Strokes = [*FOUR, *([(x + 0.3, y) for x, y in stroke] for stroke in TWO)]


def wait_for_answer(page: Page, number: str) -> None:
    """Wait until the page shows `number` read, its readouts and its pictures."""
    expect(page.locator("#number .output-class")).to_have_text(number, timeout=READ_MS)
    expect(page.locator("#readouts")).to_contain_text("mask Dice", timeout=10_000)
    for picture in ("#overlay img", "#digit img"):
        expect(page.locator(picture)).to_have_js_property("complete", True, timeout=10_000)


# Gradio's notices ("No digit found ..." about a half-drawn digit, as the pen goes) stay for a while
TOAST = ".toast-body"


def save_shot(page: Page, path: Path) -> None:
    """Screenshot the page down to the overlay row, once the notices of earlier strokes are gone,
    saved as a small palette PNG."""
    expect(page.locator(TOAST)).to_have_count(0, timeout=30_000)
    boxes = [page.locator(panel).bounding_box() for panel in ("#overlay", "#digit")]
    bottom = max(box["y"] + box["height"] for box in boxes)
    width = page.viewport_size["width"]
    shot = page.screenshot(full_page=True, animations="disabled",
                           clip={"x": 0, "y": 0, "width": width, "height": bottom + MARGIN_PX})
    with Image.open(io.BytesIO(shot)) as image:
        image.convert("RGB").quantize(COLORS).save(path, optimize=True)


def take_screenshots(url: str) -> None:
    """Draw a number, then upload the photo, and screenshot the page after each answer."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        canvas = page.locator("#sketchpad canvas").first
        expect(canvas).to_be_visible(timeout=30_000)
        draw(page, canvas, NUMBER_STROKES)  # the page chose the brush on load
        wait_for_answer(page, NUMBER)
        save_shot(page, DRAWING_SHOT)

        page.get_by_role("tab", name="Upload").click()
        drawing_overlay = page.locator("#overlay img").get_attribute("src")
        page.locator("#upload input[type=file]").set_input_files(str(PHOTO))
        # the drawing's answer stays on the page until the photo's replaces it
        expect(page.locator("#overlay img")).not_to_have_attribute("src", drawing_overlay, timeout=READ_MS)
        wait_for_answer(page, PHOTO_NUMBER)
        save_shot(page, PHOTO_SHOT)
        browser.close()


def main() -> None:
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: make browser installs Debian's Chromium (as root)")
    with tempfile.TemporaryDirectory() as temp:
        log, port = Path(temp) / "app.log", free_port()
        try:
            server = start_app(port, log, env={"MNIST_DEMO_DEVICE": "cpu", "GRADIO_TEMP_DIR": temp})
        except RuntimeError as error:
            raise SystemExit(f"app.py did not start: {log.read_text()}") from error
        try:
            take_screenshots(f"http://127.0.0.1:{port}/")
        finally:
            server.terminate()
            server.wait(timeout=30)
    for path in (DRAWING_SHOT, PHOTO_SHOT):
        print(f"{path.relative_to(REPO_ROOT)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

"""The page on a phone (Debian's headless Chromium as a 390x844 touch screen, in Spanish): a digit
and then a two-digit number drawn with a finger are read, the answer shows without scrolling, and
nothing makes the page scroll sideways. One page load and three strokes: Chromium paints the canvas in
software here, each stroke takes seconds."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import CDPSession, FloatRect, Page, expect

from mnist_demo.ui import CANVAS_SIZE, NO_INPUT
from tests.test_browser import ONE, READ_MS, SEVEN, Strokes, app_page

PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15's screen in CSS pixels
# Gradio names the editor's buttons in the browser's language: the page must find its brush without
# the English labels (it did not, and a Spanish reader's first stroke drew nothing).
LOCALE = "es-ES"
CLEAR_CANVAS = "Limpiar lienzo"  # "Clear canvas" in Gradio 6.31's Spanish
TOUCH_STEPS = 12  # touch moves between two points of a stroke, as a finger reports them

pytestmark = pytest.mark.browser


def drawing_area(page: Page) -> FloatRect:
    """Where the Sketchpad's picture is on the screen. Gradio's editor shows it centred in its
    <canvas> element (324x348 on this phone), scaled to the zoom it shows (22% here)."""
    element = page.locator("#sketchpad canvas").first.bounding_box()
    zoom = float(page.locator("#sketchpad").get_by_text(re.compile(r"^\d+%$")).inner_text().rstrip("%")) / 100
    width, height = CANVAS_SIZE[0] * zoom, CANVAS_SIZE[1] * zoom
    return {"x": element["x"] + (element["width"] - width) / 2, "y": element["y"] + (element["height"] - height) / 2,
            "width": width, "height": height}


def touch_draw(touchscreen: CDPSession, box: FloatRect, strokes: Strokes) -> None:
    """Finger strokes over `box`, points as fractions of its width and height. Playwright's own
    touchscreen only taps, so the touches go through the DevTools protocol."""

    def touch(kind: str, x: float, y: float) -> None:
        point = {"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}
        touchscreen.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})

    for stroke in strokes:
        touch("touchStart", *stroke[0])
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            for step in range(1, TOUCH_STEPS + 1):
                touch("touchMove", x0 + (x1 - x0) * step / TOUCH_STEPS, y0 + (y1 - y0) * step / TOUCH_STEPS)
        touchscreen.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.fixture
def phone(app_url: str) -> Iterator[Page]:
    """The app's page, loaded, in Debian's Chromium posing as a Spanish reader's phone."""
    with app_page(app_url, viewport=PHONE, has_touch=True, is_mobile=True, locale=LOCALE) as page:
        yield page


def page_width(page: Page) -> int:
    """How wide the page is laid out, in CSS pixels: wider than the screen means sideways scrolling."""
    return page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_phone_draws_a_digit_then_a_number_with_a_finger(phone: Page) -> None:
    assert page_width(phone) <= PHONE["width"]
    picture = drawing_area(phone)
    assert 0 <= picture["x"] and picture["x"] + picture["width"] <= PHONE["width"]  # the whole picture on screen
    assert picture["y"] + picture["height"] <= PHONE["height"]
    touchscreen = phone.context.new_cdp_session(phone)
    number = phone.locator("#number .output-class")

    touch_draw(touchscreen, picture, SEVEN)
    expect(number).to_have_text("7", timeout=READ_MS)
    # the stroke drew instead of panning the page, and the answer is on the screen beside the drawing
    assert phone.evaluate("() => [window.scrollX, window.scrollY]") == [0, 0]
    answer = number.bounding_box()
    assert answer["y"] + answer["height"] <= PHONE["height"]

    phone.get_by_role("button", name=CLEAR_CANVAS).tap()
    expect(phone.locator("#status")).to_have_text(NO_INPUT, timeout=READ_MS)
    touch_draw(touchscreen, picture, [*ONE, [(0.45, 0.2), (0.60, 0.2), (0.50, 0.8)]])  # a 1, then a 7 beside it
    expect(number).to_have_text("17", timeout=READ_MS)
    assert page_width(phone) <= PHONE["width"]  # the answers, the overlay and the readouts fit too

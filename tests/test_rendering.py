"""The pictures people see: the input as displayed, and the mask and boxes drawn on it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmarks.synthetic import as_sketchpad, pen_drawing, place
from mnist_demo.inference import Predictor
from mnist_demo.preprocessing import mask_box
from mnist_demo.rendering import BOX_COLOUR, MASK_ALPHA, MASK_COLOUR, display_image, render_overlay


def composite(alpha: int = 255) -> np.ndarray:
    """An 80x60 RGBA picture: white paper, a black bar, every pixel's alpha `alpha` but one opaque."""
    picture = np.full((60, 80, 4), 255, dtype=np.uint8)
    picture[20:40, 30:50, :3] = 0
    picture[..., 3] = alpha
    picture[0, 0, 3] = 255
    return picture


def test_an_opaque_composite_is_shown_as_it_is() -> None:
    picture = composite()
    shown = display_image(picture)
    assert np.array_equal(np.asarray(shown.convert("RGB")), picture[..., :3])
    # non-contiguous arrays take the slow path and agree
    strided = np.concatenate([picture, picture], axis=1)[:, ::2]
    assert not strided.flags.c_contiguous
    assert np.array_equal(np.asarray(display_image(strided).convert("RGB")), strided[..., :3])


@pytest.mark.parametrize("alpha", [0, 254])
def test_transparency_is_shown_on_white(alpha: int) -> None:
    picture = composite(alpha)
    shown = np.asarray(display_image(picture).convert("RGB")).astype(int)
    assert shown[1, 1].min() == 255  # white paper stays white
    if alpha == 0:
        assert shown[30, 40].min() == 255  # the invisible black bar is not shown
    else:
        assert shown[30, 40].max() <= 1  # a nearly opaque black bar stays black


def test_the_overlay_tints_the_mask_and_draws_the_box(predictor: Predictor, sample_digits) -> None:  # noqa: ANN001
    ink, _ = place(pen_drawing(sample_digits.images[0].numpy(), 240, 12), (400, 400), (0.5, 0.5))
    value = as_sketchpad(ink)
    before = np.asarray(value["composite"]).copy()
    result = predictor.predict(value)
    shown = display_image(value)
    original = np.asarray(shown.convert("RGB")).astype(int)
    drawn = np.asarray(render_overlay(shown, result).convert("RGB")).astype(int)
    assert np.array_equal(np.asarray(value["composite"]), before), "the input must not be drawn on"

    x0, y0, x1, y1 = result.box
    inside = np.zeros(result.mask.shape, dtype=bool)
    inside[y0 + 8:y1 - 8, x0 + 8:x1 - 8] = True  # away from the box's outline
    tinted, untouched = result.mask & inside, ~result.mask & inside
    assert tinted.sum() > 100 and untouched.sum() > 100
    expected = (1 - MASK_ALPHA) * original[tinted] + MASK_ALPHA * np.array(MASK_COLOUR)
    assert np.abs(drawn[tinted] - expected).max() <= 1
    assert np.array_equal(drawn[untouched], original[untouched])
    # the box outline in blue on three sides (the caption's tab sits on the fourth), nothing
    # drawn below the box and the mask
    for x, y in [((x0 + x1) // 2, y1 - 1), (x0, (y0 + y1) // 2), (x1 - 1, (y0 + y1) // 2)]:
        assert tuple(drawn[y, x]) == BOX_COLOUR
    bottom = max(y1, mask_box(result.mask)[3])
    assert bottom < 390 and np.array_equal(drawn[bottom:], original[bottom:])


def test_no_digit_leaves_the_picture_alone(predictor: Predictor) -> None:
    blank = Image.new("RGB", (50, 40), "white")
    result = predictor.predict(blank)
    assert not result.found
    assert np.array_equal(np.asarray(render_overlay(blank.copy(), result)), np.asarray(blank))

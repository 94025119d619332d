"""The U-Net's mask at the picture's own resolution (segmentation.py), and the readouts shown
beside it, which measure that mask against the thresholded picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.synthetic import as_photo, as_sketchpad, pen_drawing, place
from mnist_demo.data import DigitSet, ink_mask
from mnist_demo.frames import working_copy_of
from mnist_demo.inference import Predictor
from mnist_demo.metrics import dice_and_iou
from mnist_demo.preprocessing import Ink, mask_box, to_ink
from mnist_demo.segmentation import GRID_HEIGHT, grid_size, segment

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_unets_copy_is_64_px_high_and_as_wide_as_the_picture() -> None:
    assert grid_size(800, 800) == (GRID_HEIGHT, 64)
    assert grid_size(480, 1200) == (GRID_HEIGHT, 160)
    assert grid_size(100, 5000)[1] == 8 * GRID_HEIGHT  # a very long strip is squeezed
    assert all(side % 4 == 0 for side in grid_size(333, 71))


def test_paper_is_never_ink(predictor: Predictor) -> None:
    """Whatever the U-Net answers, a pixel without any ink is not in the mask."""
    values = np.zeros((300, 300), dtype=np.uint8)
    values[100:200, 140:160] = 255
    ink = Ink(values, clean=True)
    mask = segment(predictor.unet, ink, working_copy_of(ink, mask_box(values > 0)))
    assert mask.shape == values.shape and not (mask & (values == 0)).any()


@pytest.mark.parametrize(("size", "pen"), [(600, 8), (600, 40), (150, 5)])
def test_the_mask_of_a_drawing_is_its_strokes_at_its_resolution(predictor: Predictor, test_digits: DigitSet,
                                                                size: int, pen: int) -> None:
    """On an 800x800 drawing, thin to thick pen, small or large, the mask is the inked pixels
    themselves (the 28x28 U-Net's mask was a halo twice as wide as the strokes: Dice 0.77)."""
    ink, _ = place(pen_drawing(test_digits.images[0].numpy(), size, pen), (800, 800), (0.4, 0.5))
    result = predictor.predict(as_sketchpad(ink))
    assert dice_and_iou(result.mask, ink > 0)[0] >= 0.97


def test_the_mask_goes_on_where_the_box_ends(predictor: Predictor, test_digits: DigitSet) -> None:
    """A stroke running far past the digit (a long tail) is masked where it runs, not cut off
    square at the box's edge: the U-Net reads the whole picture."""
    ink, _ = place(pen_drawing(test_digits.images[1].numpy(), 300, 16), (800, 800), (0.3, 0.3))
    ink[500:512, 200:780] = 255  # a long underline, out of any digit's box
    result = predictor.predict(as_sketchpad(ink))
    assert result.found
    assert result.mask[500:512, 700:780].mean() > 0.95


@pytest.mark.parametrize("kind", ["drawing", "photo"])
def test_readouts_measure_the_mask_shown_against_the_thresholded_picture(predictor: Predictor,
                                                                         test_digits: DigitSet, kind: str) -> None:
    """The readouts shown equal (to 0.01) the Dice and IoU of the mask shown against the picture's
    thresholded ink, over the whole picture and inside each digit's box."""
    ink, _ = place(pen_drawing(test_digits.images[2].numpy(), 400, 20), (750, 1000), (0.5, 0.5))
    picture = as_sketchpad(ink) if kind == "drawing" else as_photo(ink, np.random.default_rng(0))
    result = predictor.predict(picture)
    thresholded = ink_mask(to_ink(picture).values)
    whole_dice, whole_iou = dice_and_iou(result.mask, thresholded)
    assert result.metrics["mask_dice"] == pytest.approx(whole_dice, abs=0.01)
    assert result.metrics["mask_iou"] == pytest.approx(whole_iou, abs=0.01)
    for reading in result.digits:
        x0, y0, x1, y1 = reading.box
        assert reading.mask_dice == pytest.approx(dice_and_iou(result.mask[y0:y1, x0:x1],
                                                               thresholded[y0:y1, x0:x1])[0], abs=0.01)


def test_on_a_photo_the_mask_is_the_ink_without_its_noise(predictor: Predictor, test_digits: DigitSet) -> None:
    """On a photo the mask is closer to the clean ink than the picture's own thresholded ink."""
    ink, _ = place(pen_drawing(test_digits.images[3].numpy(), 400, 24), (750, 1000), (0.5, 0.5))
    photo = as_photo(ink, np.random.default_rng(1))
    result = predictor.predict(photo)
    clean = torch.from_numpy(ink > 0).numpy()
    assert dice_and_iou(result.mask, clean)[0] >= 0.85
    assert dice_and_iou(result.mask, clean)[0] > dice_and_iou(ink_mask(to_ink(photo).values), clean)[0]

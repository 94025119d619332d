"""The numbers benchmark's close and touching numbers: neighbours as close as the spacing says, every
number on the app's canvas. (The predictor's score on them is measured by benchmarks.numbers.)"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from benchmarks import numbers
from benchmarks.numbers import CANVAS, MARGIN, WrittenNumber
from benchmarks.synthetic import as_sketchpad, pen_drawing
from mnist_demo.data import DigitSet
from mnist_demo.inference import Predictor
from mnist_demo.preprocessing import ink_box


@pytest.fixture(scope="module")
def written(test_digits: DigitSet) -> dict[str, list[WrittenNumber]]:
    """12 numbers of each new spacing, two of each length."""
    return {spacing: list(numbers.written_numbers(test_digits, spacing, per_length=2, seed=0))
            for spacing in ("close", "touching")}


def test_close_gaps_run_from_overlapping_to_near(written: dict[str, list[WrittenNumber]]) -> None:
    gaps = [gap for number in written["close"] for gap in number.gaps]
    assert min(gaps) >= numbers.CLOSE_GAP[0] and max(gaps) <= numbers.CLOSE_GAP[1]
    assert sum(gap <= 0 for gap in gaps) >= 3
    for number in written["close"]:
        for (left, right), gap in zip(itertools.pairwise(number.boxes), number.gaps, strict=True):
            if gap <= 0:  # the two ink boxes overlap or touch, sideways and up and down
                assert right[0] <= left[2] and right[1] <= left[3] and left[1] <= right[3], (number.truth, gap)


def test_boxes_are_the_digits_ink(written: dict[str, list[WrittenNumber]]) -> None:
    for number in written["close"] + written["touching"]:
        x0, y0, x1, y1 = ink_box(number.ink / 255.0)
        boxes = np.array(number.boxes)
        assert (x0, y0, x1, y1) == (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
        assert len(number.boxes) == len(number.truth)
        for bx0, by0, bx1, by1 in number.boxes:
            assert number.ink[by0:by1, bx0].any() and number.ink[by0:by1, bx1 - 1].any()


def test_touching_numbers_overlap_their_neighbours(written: dict[str, list[WrittenNumber]]) -> None:
    assert all(gap <= 0 for number in written["touching"] for gap in number.gaps)


def test_touching_strokes_meet(test_digits: DigitSet) -> None:
    """Each digit's ink meets its neighbour's, unless that would have put it more than MOST_SHARED
    of its width under the neighbour's box (a digit after a 7's bar, say)."""
    patches = [pen_drawing(test_digits.images[index].numpy(), 150, 10) for index in range(12)]
    corners = numbers.place_digits(patches, [0] * 11, touching=True, slope=0.05, drops=[0.0] * 12)
    start = np.array(corners).min(axis=0)
    shifted = [(x - start[0], y - start[1]) for x, y in corners]
    canvas = (max(y + patch.shape[0] for patch, (_, y) in zip(patches, shifted, strict=True)),
              max(x + patch.shape[1] for patch, (x, _) in zip(patches, shifted, strict=True)))
    masks = [numbers.write_digits([patch], [corner], canvas)[0] >= 128
             for patch, corner in zip(patches, shifted, strict=True)]
    meeting = 0
    for (left, right), (a, b), ((ax, _), (bx, _)) in zip(
            itertools.pairwise(masks), itertools.pairwise(patches), itertools.pairwise(shifted), strict=True):
        touches = bool((ndimage.binary_dilation(left, np.ones((3, 3), bool)) & right).any())
        stopped_short = bx == ax + a.shape[1] - round(numbers.MOST_SHARED * min(a.shape[1], b.shape[1]))
        assert touches or stopped_short
        assert not (left & right).any()  # a crossing of 0 px: they meet, no stroke runs over the other
        meeting += touches
    assert meeting >= 8


def test_every_number_fits_the_canvas(written: dict[str, list[WrittenNumber]]) -> None:
    for number in written["close"] + written["touching"]:
        assert number.ink.shape == CANVAS
        boxes = np.array(number.boxes)
        assert boxes[:, :2].min() >= MARGIN
        assert boxes[:, 2].max() <= CANVAS[1] - MARGIN and boxes[:, 3].max() <= CANVAS[0] - MARGIN


def test_a_number_too_big_for_the_canvas_is_written_smaller(test_digits: DigitSet,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "HEIGHT", (400, 401))
    images = [test_digits.images[index].numpy() for index in range(6)]
    ink, boxes, _ = numbers.close_number(images, "close", np.random.default_rng(0))
    assert ink.shape == CANVAS and len(boxes) == 6
    x0, y0, x1, y1 = ink_box(ink / 255.0)
    assert x0 >= MARGIN and y0 >= MARGIN and x1 <= CANVAS[1] - MARGIN and y1 <= CANVAS[0] - MARGIN


def test_wide_numbers_are_those_of_before(test_digits: DigitSet) -> None:
    first = list(itertools.islice(numbers.written_numbers(test_digits, "wide", per_length=1, seed=0), 3))
    assert [number.truth for number in first] == ["2", "44", "087"]
    assert all(8 <= gap < 40 for number in first for gap in number.gaps)


@pytest.mark.parametrize("spacing", ["wide", "touching"])
def test_each_digit_alone_is_its_own_ink_of_the_number(test_digits: DigitSet, spacing: str) -> None:
    """`alone_accuracy` reads each digit written alone: its canvas holds that digit's ink in its box
    and nothing else, and the digits alone, overlaid as they were written, make the number's ink."""
    for number in itertools.islice(numbers.written_numbers(test_digits, spacing, per_length=1, seed=0), 6):
        alone = [number.alone(index) for index in range(len(number.truth))]
        assert np.array_equal(np.maximum.reduce(alone), number.ink)
        for ink, box in zip(alone, number.boxes, strict=True):
            assert ink_box(ink / 255.0) == box


def test_a_wrong_count_is_traced_to_the_stage_that_made_it(test_digits: DigitSet, predictor: Predictor) -> None:
    """wrong_stage: a 7 and a 2 written far apart, taken for a one-digit number, are two digits
    from the detector's boxes on ("boxes"); read with as many digits as written but one wrong,
    "misread"."""
    patches = [pen_drawing(test_digits.images[index].numpy(), 150, 8) for index in (0, 1)]
    ink, boxes, own = numbers.write_digits(patches, [(100, 100), (700, 120)])
    number = predictor.predict(as_sketchpad(ink)).number
    assert number == "72"
    assert numbers.wrong_stage(predictor, WrittenNumber("7", ink, boxes[:1], own[:1]), number) == "boxes"
    assert numbers.wrong_stage(predictor, WrittenNumber("72", ink, boxes, own), "73") == "misread"


@pytest.mark.parametrize("label, number, outcome", [
    ("5", "5", "right"), ("5", "55", "several"), ("8", "00", "several"), ("2", "", "none"), ("9", "4", "misread"),
])
def test_a_digit_written_alone_is_right_several_none_or_misread(label: str, number: str, outcome: str) -> None:
    assert numbers.alone_outcome(label, number) == outcome


@pytest.mark.parametrize("read_right, alone_right, outcome", [
    (True, True, "both_right"), (False, True, "lost"), (False, False, "both_wrong"), (True, False, "saved"),
])
def test_a_number_in_context_is_lost_saved_or_as_its_digits_alone(read_right: bool, alone_right: bool,
                                                                  outcome: str) -> None:
    assert numbers.context_outcome(read_right, alone_right) == outcome

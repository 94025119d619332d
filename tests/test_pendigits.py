"""Pendigits as the package reads and draws them (mnist_demo.pendigits, mnist_demo.pen) and as
the benchmark hands them to the app: the right labels, a fixed held-out split, strokes the right
way up and the right shape, and a clear message for a missing or broken file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.pendigits import main, sketchpad_drawing
from mnist_demo.data import DataUnavailableError, DigitSet
from mnist_demo.inference import Predictor
from mnist_demo.pen import smooth_path
from mnist_demo.pendigits import (
    PENDIGITS_FILE,
    SAMPLES_PER_SEGMENT,
    PenDigits,
    mnist_aspects,
    pen_digit,
    read_pendigits,
)
from mnist_demo.preprocessing import ink_box
from mnist_demo.ui import BRUSH_SIZE, CANVAS_SIZE

HEIGHT = 300
PLAIN_SEVEN = 1294  # a 7 with no crossbar (most in the file have one, joined to the stem by the pen-up)
FIRST_LINE = "47,100,27,81,57,37,26,0,0,23,56,53,100,90,40,98,0000000010\n"


@pytest.fixture(scope="module")
def pendigits(mnist_dir: Path) -> PenDigits:
    """The pendigits file beside MNIST in the data folder; fails under CI when it is missing."""
    try:
        return read_pendigits(mnist_dir)
    except DataUnavailableError as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(f"{error} (set MNIST_DATA_DIR)")


def first(pendigits: PenDigits, label: int) -> np.ndarray:
    return pendigits.points[int(np.flatnonzero(pendigits.labels == label)[0])]


def box_shape(ink: np.ndarray) -> tuple[int, int]:
    """(height, width) of the ink box."""
    x0, y0, x1, y1 = ink_box(ink)
    return y1 - y0, x1 - x0


def write_pendigits(data_dir: Path, text: str) -> None:
    path = data_dir / PENDIGITS_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_the_file_reads_as_labelled_pen_paths(pendigits: PenDigits) -> None:
    assert len(pendigits) == 7494
    assert pendigits.points.shape == (7494, 8, 2)
    # first line: 47,100,27,81,...,0000000010
    assert pendigits.labels[0] == 8
    assert pendigits.points[0, 0].tolist() == [47, 100]
    assert pendigits.points[0, 1].tolist() == [27, 81]
    assert np.bincount(pendigits.labels).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]


def test_every_fourth_line_is_held_out_and_the_rest_trains(pendigits: PenDigits) -> None:
    held_out, training = pendigits.part(held_out=True), pendigits.part(held_out=False)
    assert (len(held_out), len(training)) == (1874, 5620)
    # no line on both sides, and together every line
    assert np.array_equal(held_out.points, pendigits.points[::4])
    assert np.array_equal(held_out.labels, pendigits.labels[::4])
    kept = np.arange(len(pendigits)) % 4 != 0
    assert np.array_equal(training.points, pendigits.points[kept])
    assert np.array_equal(training.labels, pendigits.labels[kept])
    # every class on both sides
    assert np.bincount(held_out.labels).min() > 150
    assert np.bincount(training.labels).min() > 500


def test_a_small_file_reads_and_splits(tmp_path: Path) -> None:
    write_pendigits(tmp_path, FIRST_LINE + "\n" + "0,0,10,10,20,20,30,30,40,40,50,50,60,60,70,70,0100000000\n")
    digits = read_pendigits(tmp_path)  # the blank line is skipped
    assert digits.labels.tolist() == [8, 1]
    assert digits.points[1, 7].tolist() == [70, 70]
    assert digits.part(held_out=True).labels.tolist() == [8]
    assert digits.part(held_out=False).labels.tolist() == [1]
    assert digits.first(1).labels.tolist() == [8]


def test_a_broken_line_is_named(tmp_path: Path) -> None:
    write_pendigits(tmp_path, FIRST_LINE + "1,2,3,0100000000\n")
    with pytest.raises(ValueError, match="line 2: expected 16 coordinates"):
        read_pendigits(tmp_path)


def test_a_missing_file_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match=re.escape(str(tmp_path / PENDIGITS_FILE))):
        read_pendigits(tmp_path)


def test_the_benchmark_stops_on_a_missing_file_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=re.escape(f"expected {tmp_path / PENDIGITS_FILE}")):
        main(["--data-dir", str(tmp_path)])


def test_the_curve_passes_through_every_point_in_small_steps() -> None:
    points = np.array([[0, 0], [10, 30], [10, 30], [40, 35], [60, 0]], dtype=float)  # one point repeated
    curve = smooth_path(points, SAMPLES_PER_SEGMENT)
    assert np.allclose(curve[0], points[0]) and np.allclose(curve[-1], points[-1])
    assert all(np.linalg.norm(curve - point, axis=1).min() < 1e-6 for point in points)
    assert np.linalg.norm(np.diff(curve, axis=0), axis=1).max() < 3


def test_a_seven_is_drawn_upright(pendigits: PenDigits) -> None:
    assert pendigits.labels[PLAIN_SEVEN] == 7
    ink = pen_digit(pendigits.points[PLAIN_SEVEN], HEIGHT, aspect=1.2, brush=BRUSH_SIZE)
    third = len(ink) // 3
    # its bar and the start of its diagonal at the top, only the foot of the stem at the bottom
    assert ink[:third].sum() > 1.5 * ink[-third:].sum()


def test_a_drawing_has_the_asked_height_and_aspect(pendigits: PenDigits) -> None:
    one = first(pendigits, 1)
    height, width = box_shape(pen_digit(one, HEIGHT, aspect=3.0, brush=BRUSH_SIZE))
    assert abs(height - HEIGHT) <= 0.05 * HEIGHT
    assert 2.5 < height / width < 3.5
    height, width = box_shape(pen_digit(one, HEIGHT, aspect=1.0, brush=BRUSH_SIZE))  # as the file gives it
    assert 0.9 < height / width < 1.1


def test_mnist_ones_are_taller_for_their_width_than_zeros(sample_digits: DigitSet) -> None:
    aspects = mnist_aspects(sample_digits)
    assert len(aspects) == 10 and sum(map(len, aspects)) == len(sample_digits.labels)
    assert np.median(aspects[1]) > 2 > np.median(aspects[0]) > 1


@pytest.mark.parametrize("label", [0, 1, 2, 3, 4, 6, 7, 8, 9])
def test_the_app_reads_a_clear_drawing(pendigits: PenDigits, predictor: Predictor, one_thread: None,
                                       label: int) -> None:
    # the file's first of each class but its 5 and 7, whose pen-up joins make a 6 and a looped 2
    points = pendigits.points[PLAIN_SEVEN] if label == 7 else first(pendigits, label)
    drawing = sketchpad_drawing(points, aspect=3.0 if label == 1 else 1.2, rng=np.random.default_rng(label))
    assert drawing["composite"].shape == (CANVAS_SIZE[1], CANVAS_SIZE[0], 4)  # the app's Sketchpad
    assert predictor.predict(drawing).number == str(label)

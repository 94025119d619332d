"""MNIST's training digits redrawn with a pen, alone (redrawn.pen_redrawn) and written close in rows
(redrawn.pen_redrawn_in_rows), as the classifier trains on them."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from benchmarks.pen_redrawn import answers
from mnist_demo.constants import NOT_A_DIGIT
from mnist_demo.data import DigitSet, normalise
from mnist_demo.drawn import whole_view
from mnist_demo.inference import Predictor
from mnist_demo.pen import _thin, pen_drawing
from mnist_demo.redrawn import pen_redrawn, pen_redrawn_in_rows, row_views
from mnist_demo.views import mnist_view, stroke_width


def test_redrawn_digits_keep_their_labels_as_views(sample_digits: DigitSet) -> None:
    redrawn = pen_redrawn(sample_digits, 20, seed=0)
    assert redrawn.images.shape == (20, 28, 28) and redrawn.images.dtype == torch.uint8
    assert set(redrawn.labels.tolist()) <= set(sample_digits.labels.tolist())
    assert int(redrawn.images.amax(dim=(1, 2)).min()) == 255  # every view has ink, scaled as the app scales it
    assert torch.equal(redrawn.images, pen_redrawn(sample_digits, 20, seed=0).images)
    assert not torch.equal(redrawn.images, pen_redrawn(sample_digits, 20, seed=1).images)


def test_each_redrawn_digit_is_labelled_as_its_source(sample_digits: DigitSet, predictor: Predictor) -> None:
    """The labels belong to the views: the committed classifier reads nearly all of them as their
    labels (a view paired with another digit's label would be read right one time in ten)."""
    redrawn = pen_redrawn(sample_digits, 40, seed=3)
    logits = predictor.classifier(normalise(redrawn.images.float() / 255)[:, None])
    assert (logits[:, :NOT_A_DIGIT].argmax(dim=1) == redrawn.labels).float().mean() >= 0.9


def test_a_marker_leaves_thicker_strokes_in_the_view_than_a_fine_pen(sample_digits: DigitSet) -> None:
    """The point of redrawing: a thick pen's strokes stay thick in the 28x28 view (the app thickens
    thin strokes to MNIST's width but never thins heavy ones), so the classifier learns them."""
    digit = sample_digits.images[0].numpy()
    fine, marker = (pen_drawing(digit, 150, pen) for pen in (3, 25))
    widths = [stroke_width(mnist_view(ink, (0, 0, ink.shape[1], ink.shape[0]))) for ink in (fine, marker)]
    assert widths[1] > 1.3 * widths[0], widths


def test_a_loop_inked_solid_stays_solid_under_a_fine_pen() -> None:
    """A thick writer's small loop is inked solid: a line along the skeleton thins it to a hook
    (the 6 becomes a "("), so the redrawn digit keeps it as a blot, its stem as thin as the pen."""
    rows, columns = np.indices((28, 28))
    six = np.zeros((28, 28), dtype=np.uint8)
    six[4:20, 10:14] = 255  # the stem
    six[np.hypot(rows - 18, columns - 13) <= 4.5] = 255  # the loop, inked solid: wider than the stem
    ink = pen_drawing(six, 150, 4) > 0.5
    widths = ink.sum(axis=1)
    assert widths.max() >= 0.25 * len(ink)  # the blot: a quarter of the digit's height across
    assert widths[: len(ink) // 3].max() <= 8  # the stem: a 4 px pen's line


def test_thinning_leaves_one_pixel_lines_that_keep_loops_and_ends() -> None:
    """Zhang-Suen's thinning (pen._thin), as pen_drawing's skeleton: a thick ring thins to a closed
    line one pixel wide that still holds its hole, and a thick bar to a line as long as the bar."""
    rows, columns = np.indices((60, 60))
    radius = np.hypot(rows - 30, columns - 30)
    ring = _thin((radius >= 12) & (radius <= 20))
    assert ring.sum() > 2 * np.pi * 12
    assert ndimage.label(ring, structure=np.ones((3, 3)))[1] == 1  # one line, unbroken
    assert ndimage.label(~ring)[1] == 2  # the paper outside and the hole inside
    # one pixel wide: no 2x2 square of ink anywhere
    assert not (ring[:-1, :-1] & ring[1:, :-1] & ring[:-1, 1:] & ring[1:, 1:]).any()
    bar = np.zeros((20, 60), dtype=bool)
    bar[6:14, 5:55] = True
    line = _thin(bar)
    assert line.any(axis=0).sum() >= 40 and line.any(axis=1).sum() <= 2


def test_the_pen_benchmark_reads_each_view_and_marks_refusals(sample_digits: DigitSet, predictor: Predictor) -> None:
    """benchmarks.pen_redrawn's answers: the classifier's digit per view, NOT_A_DIGIT where its
    "not a digit" probability reaches the threshold (at 0, every view is refused)."""
    redrawn = pen_redrawn(sample_digits, 40, seed=5)
    read = answers(predictor.classifier, redrawn, predictor.not_a_digit_threshold)
    assert read.shape == redrawn.labels.shape and (read == redrawn.labels).float().mean() >= 0.9
    assert (answers(predictor.classifier, redrawn, 0.0) == NOT_A_DIGIT).all()


def test_digits_written_in_rows_keep_their_labels_as_views(sample_digits: DigitSet, predictor: Predictor) -> None:
    """Rows of three: a view per digit, labelled as its source, the same for the same seed; the
    committed classifier reads nearly all of them as their labels."""
    rows = pen_redrawn_in_rows(sample_digits, 31, seed=0)
    assert rows.images.shape == (30, 28, 28) and rows.images.dtype == torch.uint8  # whole rows only
    assert torch.equal(rows.images, pen_redrawn_in_rows(sample_digits, 31, seed=0).images)
    assert not torch.equal(rows.images, pen_redrawn_in_rows(sample_digits, 31, seed=1).images)
    logits = predictor.classifier(normalise(rows.images.float() / 255)[:, None])
    assert (logits[:, :NOT_A_DIGIT].argmax(dim=1) == rows.labels).float().mean() >= 0.9


def test_a_row_view_holds_the_neighbours_ends_only_when_they_reach_into_the_box(sample_digits: DigitSet) -> None:
    """A digit of a row is framed as the app frames a digit of a number: written far from its
    neighbours, its view is the view of the digit alone; written into them, their strokes' ends
    reach into its box, and into its view."""
    images, size, pen = sample_digits.images[:3].numpy(), [120, 120, 120], 6.0
    alone = whole_view(pen_drawing(images[1], 120, pen))
    exact = np.zeros((3, 4))
    apart = row_views(images, size, pen, [60, 60], [0, 0, 0], exact)
    assert np.allclose(apart[1], alone, atol=1e-5)  # the same but for float rounding (5e-7)
    close = row_views(images, size, pen, [-15, -15], [0, 0, 0], exact)
    assert not np.allclose(close[1], alone, atol=0.05)

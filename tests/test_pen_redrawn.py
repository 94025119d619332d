"""MNIST's training digits redrawn with a pen (drawn.pen_redrawn), as the classifier trains on them."""

from __future__ import annotations

import torch

from mnist_demo.constants import NOT_A_DIGIT
from mnist_demo.data import DigitSet, normalise
from mnist_demo.drawn import pen_redrawn
from mnist_demo.inference import Predictor
from mnist_demo.pen import pen_drawing
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
    assert widths[1] > 1.5 * widths[0], widths

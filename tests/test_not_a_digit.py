"""The classifier's "not a digit" class: the drawn training inputs, the threshold chosen on
validation data, and how the evaluation reads refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from mnist_demo.constants import NOT_A_DIGIT
from mnist_demo.data import DigitSet
from mnist_demo.drawn import DIGIT_STYLES, SHAPES, drawn_set, not_a_digit_drawing
from mnist_demo.evaluation import choose_not_a_digit_threshold, evaluate_classifier
from mnist_demo.models import ClassifierConfig


class FixedLogits(nn.Module):
    """A stand-in classifier answering logits chosen per input (its first pixel indexes them)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits, self.config = logits, ClassifierConfig()

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        return self.logits[: len(digits)]


def logits_for(not_a_digit: list[float], digit: int = 3) -> torch.Tensor:
    """(N, 11) logits whose softmax gives each row the NOT_A_DIGIT probability asked for, the rest on `digit`."""
    chances = torch.full((len(not_a_digit), NOT_A_DIGIT + 1), 1e-6)
    chances[:, NOT_A_DIGIT] = torch.tensor(not_a_digit)
    chances[:, digit] = 1 - chances[:, NOT_A_DIGIT]
    return chances.log()


def blank_digits(labels: list[int]) -> DigitSet:
    return DigitSet(torch.zeros(len(labels), 28, 28, dtype=torch.uint8), torch.tensor(labels))


class TestDrawnInputs:
    def test_labels_and_views(self) -> None:
        drawn = drawn_set(not_digits=12, styled_digits=6, seed=0)
        assert drawn.images.shape == (18, 28, 28) and drawn.images.dtype == torch.uint8
        assert drawn.labels[:12].tolist() == [NOT_A_DIGIT] * 12
        assert set(drawn.labels[12:15].tolist()) <= set(DIGIT_STYLES)  # drawn styles, then printed digits
        assert set(drawn.labels[15:].tolist()) <= set(range(10))
        # framed as MNIST frames digits: ink inside the 28x28, none on the border rows
        assert (drawn.images.flatten(1).amax(dim=1) > 200).all()
        assert drawn.images[:, 0].sum() == 0 and drawn.images[:, -1].sum() == 0

    def test_reproducible_from_the_seed(self) -> None:
        assert torch.equal(drawn_set(5, 5, seed=3).images, drawn_set(5, 5, seed=3).images)
        assert not torch.equal(drawn_set(5, 5, seed=3).images, drawn_set(5, 5, seed=4).images)

    @pytest.mark.parametrize("name", list(SHAPES))
    def test_every_shape_draws_ink(self, name: str) -> None:
        ink = not_a_digit_drawing(np.random.default_rng(0)) if name == "scribble" else None
        strokes = SHAPES[name](np.random.default_rng(0))
        assert strokes and all(len(stroke) >= 2 for stroke in strokes)
        assert ink is None or ink.max() > 0.9


class TestThreshold:
    def test_lowest_threshold_that_refuses_at_most_a_thousandth_of_the_digits(self) -> None:
        chances = [0.01] * 998 + [0.37, 0.6]  # at 0.3 and 0.35 two digits in 1000 are refused, from 0.4 one
        model = choose_not_a_digit_threshold(FixedLogits(logits_for(chances)), blank_digits([3] * 1000),
                                             torch.device("cpu"))
        assert model.config.not_a_digit_threshold == pytest.approx(0.4)

    def test_non_digits_do_not_count_as_false_refusals(self) -> None:
        chances = [0.01] * 1000 + [0.99] * 500
        model = choose_not_a_digit_threshold(FixedLogits(logits_for(chances)),
                                             blank_digits([3] * 1000 + [NOT_A_DIGIT] * 500), torch.device("cpu"))
        assert model.config.not_a_digit_threshold == pytest.approx(0.3)


def test_evaluation_counts_a_refused_digit_as_wrong_and_reports_refusals() -> None:
    model = FixedLogits(logits_for([0.1, 0.1, 0.9, 0.95, 0.2]))
    model.config = dataclasses.replace(model.config, not_a_digit_threshold=0.5)
    scores = evaluate_classifier(model, blank_digits([3, 4, 3, NOT_A_DIGIT, NOT_A_DIGIT]), torch.device("cpu"),
                                 with_drawn=False)
    assert scores["accuracy"] == pytest.approx(1 / 3)  # the 3 read, the 4 read as 3, the last 3 refused
    assert scores["false_rejection"] == pytest.approx(1 / 3)
    assert scores["not_a_digit_rejected"] == pytest.approx(1 / 2)

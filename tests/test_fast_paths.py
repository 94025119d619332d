"""The fast paths give the answers the plain ones do: batched against one at a time, one torch
thread against two. (Speed itself is measured by benchmarks/, never asserted in tests.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_demo.data import DigitSet, normalise, to_unit_float
from mnist_demo.detection import detect
from mnist_demo.evaluation import fixed_canvases
from mnist_demo.inference import Predictor
from mnist_demo.synthetic import as_sketchpad, pen_drawing, write_number


@pytest.fixture(scope="module")
def number_sketch(test_digits: DigitSet) -> dict:
    patches = [pen_drawing(test_digits.images[index].numpy(), 160, 12) for index in range(3)]
    ink, _ = write_number(patches, 40, (480, 1200))
    return as_sketchpad(ink)


def test_classifier_batched_equals_one_at_a_time(predictor: Predictor, test_digits: DigitSet) -> None:
    digits = normalise(to_unit_float(test_digits.images[:32]))
    with torch.inference_mode():
        batched = torch.softmax(predictor.classifier(digits), dim=1)
        single = torch.cat([torch.softmax(predictor.classifier(digit[None]), dim=1) for digit in digits])
    assert torch.equal(batched.argmax(dim=1), single.argmax(dim=1))
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_detector_batched_equals_one_at_a_time(predictor: Predictor, test_digits: DigitSet) -> None:
    canvases = normalise(fixed_canvases(test_digits.subset(12), 96, [1, 2, 3, 6]).images)
    batched = detect(predictor.detector, canvases)
    for index, canvas in enumerate(canvases):
        (alone,) = detect(predictor.detector, canvas[None])
        assert torch.equal(alone.labels, batched[index].labels)
        torch.testing.assert_close(alone.boxes, batched[index].boxes, atol=0.05, rtol=0)


def test_thread_count_does_not_change_the_answer(predictor: Predictor, number_sketch: dict) -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = predictor.predict(number_sketch)
        torch.set_num_threads(2)
        two = predictor.predict(number_sketch)
    finally:
        torch.set_num_threads(threads)
    assert one.number == two.number and len(one.number) == 3
    assert [d.box for d in one.digits] == [d.box for d in two.digits]
    assert np.array_equal(one.mask, two.mask)
    np.testing.assert_allclose([d.probabilities for d in one.digits], [d.probabilities for d in two.digits], atol=1e-5)

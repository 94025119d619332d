"""The fast paths give the answers the plain ones do: batched against one at a time, one thread
against two, the served models (ONNX Runtime on the CPU, norms folded elsewhere) against the
checkpoints, a large drawing read from a reduced copy against the exact ink. (Speed itself is
measured by benchmarks/, never asserted in tests.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from benchmarks.synthetic import as_sketchpad, pen_drawing, place, write_number
from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.data import DigitSet, normalise, to_unit_float
from mnist_demo.detection import detect
from mnist_demo.evaluation import fixed_canvases
from mnist_demo.frames import working_copy, working_factor
from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.metrics import paired_box_iou
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import Ink, ink_box
from mnist_demo.serving import OnnxDetector, OnnxNetwork, for_inference, serve


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
    one = predictor.predict(number_sketch)
    two = load_predictor(device="cpu", threads=2).predict(number_sketch)
    assert one.number == two.number and len(one.number) == 3
    assert [d.box for d in one.digits] == [d.box for d in two.digits]
    assert np.array_equal(one.mask, two.mask)
    np.testing.assert_allclose([d.probabilities for d in one.digits], [d.probabilities for d in two.digits], atol=1e-5)


def test_the_cpu_serves_through_onnx_runtime(predictor: Predictor) -> None:
    assert isinstance(predictor.classifier, OnnxNetwork) and isinstance(predictor.unet, OnnxNetwork)
    assert isinstance(predictor.detector, OnnxDetector)


CPU = torch.device("cpu")
SERVED = {"onnx_runtime": lambda model: serve(model, CPU, threads=1), "folded_torch": for_inference}


@pytest.mark.parametrize("path", SERVED)
@pytest.mark.parametrize("name", ["classifier", "unet"])
def test_served_models_answer_as_the_checkpoints(test_digits: DigitSet, name: str, path: str) -> None:
    """ONNX Runtime, and batch norm folded into the convolutions, change nothing but rounding."""
    model, _ = load_checkpoint(name, None, CPU)
    served = SERVED[path](model)
    if path == "folded_torch":
        assert not any(isinstance(layer, (torch.nn.BatchNorm2d, torch.nn.Dropout)) for layer in served.modules())
    digits = normalise(to_unit_float(test_digits.images[:256]))
    if name == "unet":  # it reads a 64-px copy of the picture, of any width
        digits = F.interpolate(digits[:16], size=(64, 96), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        plain, fast = model(digits), served(digits)
    if name == "classifier":
        assert torch.equal(plain.argmax(dim=1), fast.argmax(dim=1))
    else:
        assert torch.equal(plain > 0, fast > 0) or (plain > 0).ne(fast > 0).float().mean() < 1e-4
    torch.testing.assert_close(fast, plain, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("path", SERVED)
def test_served_detector_finds_the_checkpoints_boxes(test_digits: DigitSet, path: str) -> None:
    model, _ = load_checkpoint("detector", None, CPU)
    served = SERVED[path](model)
    canvases = normalise(fixed_canvases(test_digits.subset(24), 96, [1, 2, 3]).images)
    for plain, fast in zip(detect(model, canvases), detect(served, canvases), strict=True):
        assert torch.equal(plain.labels, fast.labels)
        torch.testing.assert_close(fast.boxes, plain.boxes, atol=0.05, rtol=0)


def test_working_copy_maps_back_exactly() -> None:
    """A reduced copy's pixel (u, v) is the mean of the input's factor x factor block at
    origin + factor * (u, v), and its boxes map back onto those pixels."""
    values = np.random.default_rng(0).random((50, 70)).astype(np.float32)
    work = working_copy(Ink(values, clean=True), (5, 3, 66, 50), 4)
    assert work.ink.values.shape == (12, 16)  # 47 rows and 61 columns grow to whole working pixels
    assert work.ink.values[2, 3] == pytest.approx(values[3 + 8:3 + 12, 5 + 12:5 + 16].mean())
    assert work.ink.values[-1, -1] == pytest.approx(values[47:50, 65:69].sum() / 16)  # paper past the edge
    assert work.to_input((3, 2, 4, 3)) == (17, 11, 21, 15)


def test_large_drawing_is_read_from_a_reduced_copy_with_exact_boxes(predictor: Predictor,
                                                                    test_digits: DigitSet) -> None:
    """A digit drawn 600 px tall is read from a copy reduced 6 times, yet its box, ground truth
    and mask are those of the input's own pixels, as for the same drawing at a size read as it is."""
    patch = pen_drawing(test_digits.images[0].numpy(), 600, 30)  # a 7
    ink, true_box = place(patch, (800, 800), (0.5, 0.5))
    assert working_factor(Ink(ink / 255.0, clean=True), true_box) == 6
    large = predictor.predict(as_sketchpad(ink))
    assert large.number == "7"
    assert large.box == true_box == large.truth_box == large.digits[0].truth_box
    assert float(paired_box_iou(torch.tensor([large.detector_box]), torch.tensor([true_box]))[0]) > 0.8
    small_ink, small_box = place(pen_drawing(test_digits.images[0].numpy(), 150, 30 / 4), (200, 200), (0.5, 0.5))
    small = predictor.predict(as_sketchpad(small_ink))
    assert small.number == "7" and small.box == small_box
    assert abs(large.digits[0].mask_dice - small.digits[0].mask_dice) < 0.05

    def mask_fit(result: Prediction, box: tuple[int, int, int, int]) -> float:
        return float(paired_box_iou(torch.tensor([ink_box(result.mask.astype(np.float32))]), torch.tensor([box]))[0])

    assert abs(mask_fit(large, true_box) - mask_fit(small, small_box)) < 0.05, "the mask lands where it does at 1:1"

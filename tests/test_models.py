"""Shapes, a backward pass and argument errors of the three networks."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from mnist_demo.detection import detector_loss, make_targets
from mnist_demo.models import Classifier, Detector, DetectorConfig, DetectorOutput, UNet, UniformDropout
from mnist_demo.tasks import Batch, PictureTargets, classifier_loss, unet_loss


@pytest.fixture(autouse=True)
def fixed_seed() -> None:
    torch.manual_seed(0)


def assert_every_parameter_learns(model: nn.Module) -> None:
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name} has a non-finite gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


class TestClassifier:
    def test_one_logit_per_digit_and_one_for_not_a_digit(self) -> None:
        logits = Classifier().eval()(torch.randn(3, 1, 28, 28))
        assert logits.shape == (3, 11)
        assert torch.isfinite(logits).all()

    def test_backward_reaches_every_parameter(self) -> None:
        model = Classifier().train()
        classifier_loss(model, Batch(torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 7, 9]))).backward()
        assert_every_parameter_learns(model)


def test_uniform_dropout_drops_its_share_and_keeps_the_mean() -> None:
    dropout, features = UniformDropout(0.3), torch.ones(200, 500)
    dropped = dropout.train()(features)
    assert abs(float((dropped == 0).float().mean()) - 0.3) < 0.01
    assert torch.allclose(dropped[dropped != 0], torch.tensor(1 / 0.7))
    assert abs(float(dropped.mean()) - 1) < 0.01
    assert torch.equal(dropout.eval()(features), features), "at inference nothing is dropped"


def test_detector_starts_from_the_classifiers_digit_rows() -> None:
    classifier, detector = Classifier(), Detector()
    detector.start_from(classifier)
    head = classifier.head[1]
    assert torch.equal(detector.roi_class_head.weight, head.weight[:10])
    assert torch.equal(detector.roi_class_head.bias, head.bias[:10])
    crops = torch.randn(2, 1, 28, 28)
    assert torch.equal(detector.roi_features(crops), classifier.features(crops))


class TestUNet:
    def test_threshold_logits_have_the_input_shape(self) -> None:
        logits = UNet().eval()(torch.randn(2, 1, 64, 96))
        assert logits.shape == (2, 1, 64, 96)

    def test_backward_reaches_every_parameter(self) -> None:
        """The loss compares the 64-px copy's thresholds with a picture twice as large."""
        model = UNet().train()
        values = torch.rand(4, 1, 128, 128)
        targets = PictureTargets(values, (values > 0.8).float())
        unet_loss(model, Batch(torch.randn(4, 1, 64, 64), targets)).backward()
        assert_every_parameter_learns(model)

    @pytest.mark.parametrize("height, width", [(30, 28), (28, 30), (29, 29)])
    def test_rejects_sides_not_divisible_by_four(self, height: int, width: int) -> None:
        expected = f"UNet needs height and width divisible by 4, got ({height}, {width})"
        with pytest.raises(ValueError, match=re.escape(expected)):
            UNet()(torch.randn(1, 1, height, width))


class TestDetector:
    def test_dense_outputs_on_the_quarter_resolution_grid(self) -> None:
        output = Detector().eval()(torch.rand(2, 1, 96, 96))
        assert isinstance(output, DetectorOutput)
        assert output.centre_logits.shape == (2, 1, 24, 24)
        assert output.box_size.shape == (2, 2, 24, 24)
        assert output.centre_offset.shape == (2, 2, 24, 24)
        assert (output.box_size > 0).all()
        assert ((output.centre_offset > 0) & (output.centre_offset < 1)).all()

    def test_backward_reaches_every_parameter(self) -> None:
        model = Detector().train()
        boxes = [
            torch.tensor([[20.0, 16.0, 44.0, 48.0]]),
            torch.tensor([[8.0, 8.0, 30.0, 40.0], [50.0, 50.0, 80.0, 90.0]]),
        ]
        labels = [torch.tensor([3]), torch.tensor([1, 7])]
        targets = make_targets(boxes, labels, grid=(24, 24), stride=4, generator=torch.Generator().manual_seed(0))
        detector_loss(model, torch.rand(2, 1, 96, 96), targets).backward()
        assert_every_parameter_learns(model)

    def test_second_stage_reads_every_box(self) -> None:
        boxes = [torch.tensor([[20.0, 16.0, 44.0, 48.0]]), torch.tensor([[8.0, 8.0, 30.0, 40.0], [50, 50, 80, 90]])]
        class_logits, refined = Detector().eval().read_boxes(torch.rand(2, 1, 96, 96), boxes)
        assert class_logits.shape == (3, 10)
        assert refined.shape == (3, 4)

    @pytest.mark.parametrize(
        "config, message",
        [
            (DetectorConfig(stride=8), "Detector is built for stride 4, got 8"),
            (DetectorConfig(canvas_size=100), "canvas_size must be divisible by 16, got 100"),
        ],
    )
    def test_rejects_unsupported_geometry(self, config: DetectorConfig, message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            Detector(config)

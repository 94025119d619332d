"""Where MNIST is looked for, the train/validation split and the ink rule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from mnist_demo.data import DigitSet, ink_mask, load_digits, load_splits, resolve_data_dir


class TestResolveDataDir:
    def test_flag_wins_over_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MNIST_DATA_DIR", "/from/environment")
        assert resolve_data_dir("/from/flag") == Path("/from/flag")

    def test_environment_when_no_flag(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MNIST_DATA_DIR", "/from/environment")
        assert resolve_data_dir(None) == Path("/from/environment")

    @pytest.mark.parametrize("environment", [None, ""])
    def test_local_data_folder_otherwise(self, monkeypatch: pytest.MonkeyPatch, environment: str | None) -> None:
        if environment is None:
            monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
        else:
            monkeypatch.setenv("MNIST_DATA_DIR", environment)
        assert resolve_data_dir(None) == Path("data")


def digit_counts(digits: DigitSet) -> Counter:
    """Each (image, label) pair counted, so splits can be compared as multisets."""
    return Counter(zip((image.numpy().tobytes() for image in digits.images), digits.labels.tolist(), strict=True))


def test_splits_partition_the_training_digits(mnist_dir: Path) -> None:
    splits = load_splits(mnist_dir)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (55_000, 5_000, 10_000)
    assert splits.train.images.shape == (55_000, 28, 28) and splits.train.images.dtype == torch.uint8
    full = load_digits(mnist_dir, train=True)
    # together they are exactly the 60k training digits, so no digit is in both
    assert digit_counts(splits.train) + digit_counts(splits.validation) == digit_counts(full)
    assert not torch.equal(splits.validation.images, full.images[:5_000]), "validation should be a shuffled draw"
    assert torch.equal(load_splits(mnist_dir).validation.labels, splits.validation.labels), "split must be fixed"


class TestInkMask:
    def test_uint8_ink_is_any_non_zero_value(self) -> None:
        assert ink_mask(torch.tensor([0, 1, 128, 255], dtype=torch.uint8)).tolist() == [False, True, True, True]

    def test_float_ink_is_what_rounds_to_at_least_one_level(self) -> None:
        pixels = torch.tensor([0.0, 0.4 / 255, 0.6 / 255, 1 / 255, 1.0])
        assert ink_mask(pixels).tolist() == [False, False, True, True, True]

    def test_uint8_and_float_agree_on_every_level(self) -> None:
        levels = torch.arange(256, dtype=torch.uint8)
        assert torch.equal(ink_mask(levels), ink_mask(levels.float() / 255))

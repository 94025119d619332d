"""MNIST in memory as uint8 tensors, the train/validation split, and the ink targets."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import MNIST

from mnist_demo.constants import (
    INK_THRESHOLD_FLOAT,
    MNIST_FILES,
    MNIST_MEAN,
    MNIST_STD,
    SPLIT_SEED,
    VALIDATION_SIZE,
)

DEFAULT_DATA_DIR = Path("data")


class DataUnavailableError(RuntimeError):
    """MNIST is neither in the data folder nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class DigitSet:
    images: torch.Tensor  # (N, 28, 28) uint8, white digit on black
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, count: int) -> DigitSet:
        return DigitSet(self.images[:count], self.labels[:count])

    def joined(self, other: DigitSet) -> DigitSet:
        return DigitSet(torch.cat([self.images, other.images]), torch.cat([self.labels, other.labels]))


@dataclass(frozen=True)
class MnistSplits:
    train: DigitSet
    validation: DigitSet
    test: DigitSet
    data_dir: Path


def resolve_data_dir(flag: str | os.PathLike | None = None) -> Path:
    """The data folder: the --data-dir flag, else $MNIST_DATA_DIR, else ./data."""
    if flag:
        return Path(flag)
    if os.environ.get("MNIST_DATA_DIR"):
        return Path(os.environ["MNIST_DATA_DIR"])
    return DEFAULT_DATA_DIR


def raw_folder(data_dir: Path) -> Path:
    return data_dir / "MNIST" / "raw"


def _missing_message(data_dir: Path, reason: str) -> str:
    names = ", ".join(MNIST_FILES)
    return (
        f"MNIST was not found in {raw_folder(data_dir).resolve()} and could not be downloaded "
        f"({reason}). Put the four uncompressed IDX files there ({names}), or point to a folder "
        "that has them with --data-dir or the MNIST_DATA_DIR environment variable "
        "(for example MNIST_DATA_DIR=../shared/data)."
    )


def load_digits(data_dir: Path, train: bool) -> DigitSet:
    """One half of MNIST as in-memory tensors; downloads only into the default ./data folder."""
    download = data_dir == DEFAULT_DATA_DIR
    try:
        dataset = MNIST(root=str(data_dir), train=train, download=download)
    except (RuntimeError, OSError) as error:
        raise DataUnavailableError(_missing_message(data_dir, str(error).strip() or type(error).__name__)) from None
    return DigitSet(dataset.data.clone(), dataset.targets.clone())


def load_splits(data_dir: Path, validation_size: int = VALIDATION_SIZE) -> MnistSplits:
    """55k training, 5k held-out validation (fixed seed) and the 10k test digits."""
    full_train = load_digits(data_dir, train=True)
    order = torch.randperm(len(full_train), generator=torch.Generator().manual_seed(SPLIT_SEED))
    train_index, validation_index = order[validation_size:], order[:validation_size]
    return MnistSplits(
        train=DigitSet(full_train.images[train_index], full_train.labels[train_index]),
        validation=DigitSet(full_train.images[validation_index], full_train.labels[validation_index]),
        test=load_digits(data_dir, train=False),
        data_dir=data_dir,
    )


def data_checksums(data_dir: Path) -> dict[str, str]:
    """SHA256 of each raw MNIST file, recorded in the checkpoint metadata."""
    return {
        name: hashlib.sha256((raw_folder(data_dir) / name).read_bytes()).hexdigest()
        for name in MNIST_FILES
        if (raw_folder(data_dir) / name).exists()
    }


ImageArray = torch.Tensor | np.ndarray


def ink_mask(images: ImageArray) -> ImageArray:
    """The ground-truth rule, defined once: a pixel is ink when its uint8 value is > 0.

    Accepts uint8 images or float images in 0..1 (a float pixel counts when it rounds to >= 1/255),
    as torch tensors or numpy arrays (the predictor's pictures: numpy compares about 8x faster
    than torch on one thread, and no conversion is needed).
    """
    if images.dtype in (torch.uint8, np.uint8):
        return images > 0
    return images >= INK_THRESHOLD_FLOAT


def ink_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool masks -> (N, 4) float boxes (x0, y0, x1, y1), x1/y1 exclusive; empty -> zeros.

    Written here rather than using torchvision.ops.masks_to_boxes because that one loops over
    masks in Python (slow for 10k) and fails on empty masks.
    """
    n, height, width = masks.shape
    columns = masks.any(dim=1)  # (N, W)
    rows = masks.any(dim=2)  # (N, H)
    x_index = torch.arange(width, device=masks.device)
    y_index = torch.arange(height, device=masks.device)
    x0 = torch.where(columns, x_index, width).amin(dim=1)
    x1 = torch.where(columns, x_index + 1, 0).amax(dim=1)
    y0 = torch.where(rows, y_index, height).amin(dim=1)
    y1 = torch.where(rows, y_index + 1, 0).amax(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    empty = ~columns.any(dim=1)
    boxes[empty] = 0.0
    return boxes


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W) uint8 -> (N, 1, H, W) float in 0..1."""
    return images.unsqueeze(1).float() / 255.0


def normalise(images: torch.Tensor) -> torch.Tensor:
    """0..1 white-on-black images -> the models' input scale (MNIST mean and std)."""
    return (images - MNIST_MEAN) / MNIST_STD


def quantise(images: torch.Tensor) -> torch.Tensor:
    """Round 0..1 floats to the 8-bit grid, so the uint8 ink rule holds on resampled images."""
    return images.clamp(0, 1).mul_(255).round_().div_(255)  # in place on clamp's copy

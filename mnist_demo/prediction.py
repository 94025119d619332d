"""What the predictor returns: one input's digits as the models read them, in the input's pixels,
and the time each stage took."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mnist_demo.frames import Box


@dataclass(frozen=True)
class DigitReading:
    """One digit of the input as the models read it; boxes are in the input's pixels."""

    label: int  # the classifier's answer
    probabilities: tuple[float, ...]  # its 10 probabilities
    box: Box  # the detector's box snapped to the digit's ink (x0, y0, x1, y1), x1/y1 exclusive
    detector_box: Box  # the detector's box as it came out of the network
    detector_label: int
    detector_score: float
    truth_box: Box | None  # the thresholded ground truth's box of this digit's ink
    digit: np.ndarray  # (28, 28) float32, what the classifier saw (white on black, 0..1)
    mask_dice: float  # the U-Net's mask against the thresholded input, on its pixels inside `box`
    mask_iou: float
    box_iou: float  # detector box against the thresholded ground truth's box

    @property
    def confidence(self) -> float:
        return max(self.probabilities)


@dataclass(frozen=True)
class Prediction:
    """Everything the models say about one input; boxes and masks are in the input's pixels.

    `digits` holds every digit read, left to right, and `number` their labels as a string; the
    single-digit fields (label, probabilities, box, digit, ...) describe the most
    confident digit, so a one-digit input reads as before.
    """

    label: int | None  # the classifier's answer; None when there is no digit
    probabilities: tuple[float, ...]  # 10 classifier probabilities (all 0 when there is no digit)
    box: Box | None  # the detector's box snapped to the ink inside it (x0, y0, x1, y1), x1/y1 exclusive
    mask: np.ndarray  # (H, W) bool, the U-Net's ink mask of the picture, at its resolution
    digit: np.ndarray  # (28, 28) float32, what the classifier saw (white on black, 0..1)
    metrics: dict[str, float]  # the whole picture's mask_dice and mask_iou, the digits' mean box_iou
    detector_box: Box | None = None  # the detector's box as it came out of the network
    detector_label: int | None = None
    detector_score: float = 0.0
    truth_box: Box | None = None  # the thresholded ground truth's box (all the ink)
    message: str | None = None  # said to the user: why there is no answer, or what to keep in mind
    timings_ms: dict[str, float] = field(default_factory=dict)
    digits: tuple[DigitReading, ...] = ()  # left to right
    number: str = ""  # the digits' labels left to right ("427"); empty when there is no digit

    @property
    def confidence(self) -> float:
        return max(self.probabilities) if self.label is not None else 0.0

    @property
    def found(self) -> bool:
        return self.label is not None


class Timer:
    """Milliseconds spent per named stage."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = round((now - self._start) * 1000, 2)
        self._start = now

"""Pen-based digits by 30 writers (UCI pendigits, `../shared/data/pendigits/`): read, and drawn
as a person draws them on the app's canvas.

The one set of real handwriting beside MNIST. Its digits are split by line, fixed: three lines in
four for training the classifier, every fourth line held out for the benchmark
(`python -m benchmarks.pendigits`). The file does not say who wrote which line, so the same 30
writers are on both sides of the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_demo.constants import NUM_CLASSES
from mnist_demo.data import DataUnavailableError, DigitSet, ink_mask
from mnist_demo.drawn import drawn_views, views_set
from mnist_demo.pen import draw_pen, smooth_path
from mnist_demo.preprocessing import ink_box

PENDIGITS_FILE = Path("pendigits") / "pendigits.tra"  # inside the data folder, beside MNIST/
SPAN = 100  # the file's coordinates run 0..SPAN on both axes
HELD_OUT_EVERY = 4  # line i is held out when i % HELD_OUT_EVERY == 0
SAMPLES_PER_SEGMENT = 32  # curve points between two of the file's points: under 4 px apart at 400 px


@dataclass(frozen=True)
class PenDigits:
    """The pen paths of a pendigits file and their labels."""

    points: np.ndarray  # (N, 8, 2) float, x to the right and y upwards, 0..SPAN
    labels: np.ndarray  # (N,) int

    def __len__(self) -> int:
        return len(self.labels)

    def first(self, count: int) -> PenDigits:
        return PenDigits(self.points[:count], self.labels[:count])

    def part(self, held_out: bool) -> PenDigits:
        """The held-out lines (every HELD_OUT_EVERY-th), or the others (for training)."""
        chosen = (np.arange(len(self)) % HELD_OUT_EVERY == 0) == held_out
        return PenDigits(self.points[chosen], self.labels[chosen])


def read_pendigits(data_dir: Path) -> PenDigits:
    """Parse the pendigits file in `data_dir`: per line 16 coordinates (x, y of 8 points), then the
    label one-hot as 10 characters (`0000000010` is 8)."""
    path = data_dir / PENDIGITS_FILE
    if not path.is_file():
        raise DataUnavailableError(f"The pendigits file is missing: expected {path} (see ../shared/data/README.md).")
    points, labels = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.strip().split(",")
        if fields == [""]:
            continue
        one_hot = fields[-1]
        if len(fields) != 17 or len(one_hot) != NUM_CLASSES or sorted(one_hot) != ["0"] * 9 + ["1"]:
            raise ValueError(f"{path}, line {number}: expected 16 coordinates and a one-hot label such as "
                             f"0000000010, got {line.strip()[:80]!r}")
        points.append([float(value) for value in fields[:16]])
        labels.append(one_hot.index("1"))
    return PenDigits(np.array(points).reshape(-1, 8, 2), np.array(labels))


def pen_digit(points: np.ndarray, height: float, aspect: float, brush: float) -> np.ndarray:
    """One pen path (8, 2) drawn as a smooth stroke whose ink box is about `height` px tall and
    `aspect` times taller than wide, cropped to its ink (float 0..1). Both of the file's axes were
    scaled to 0..SPAN, so the digit's own aspect is lost and must be given."""
    width = max(1.0, height / aspect - brush)  # of the path itself, inside the brush's width
    pixels = points / SPAN * [width, height - brush]
    pixels[:, 1] = height - brush - pixels[:, 1]  # the file's y grows upwards, image rows downwards
    margin = brush  # room for the brush and for the curve's swing beyond the points
    ink = draw_pen([smooth_path(pixels, SAMPLES_PER_SEGMENT) + margin], brush,
                   (round(width + 2 * margin), round(height + margin)))
    x0, y0, x1, y1 = ink_box(ink)
    return ink[y0:y1, x0:x1]


def mnist_aspects(digits: DigitSet) -> list[np.ndarray]:
    """Per class, the ink box height-to-width ratios of `digits` (MNIST's): the aspects to draw
    the pendigits at."""
    ink = ink_mask(digits.images.numpy())  # (N, 28, 28)
    rows, columns = ink.any(axis=2), ink.any(axis=1)
    extent = [mask.shape[1] - mask[:, ::-1].argmax(axis=1) - mask.argmax(axis=1) for mask in (rows, columns)]
    aspects, labels = extent[0] / extent[1], digits.labels.numpy()
    return [aspects[labels == label] for label in range(NUM_CLASSES)]


def pendigit_views(digits: PenDigits, aspects: list[np.ndarray], seed: int) -> DigitSet:
    """Each pen path drawn once, at a random height, aspect (MNIST's for its class) and pen width
    (a twentieth to a seventh of the height, the app's brush on a digit drawn large), as the 28x28
    views the app makes of it. Drawn on every core (`drawn.drawn_views`)."""
    rng = np.random.default_rng(seed)
    arguments = []  # (points, height, aspect, brush) for pen_digit
    for points, label in zip(digits.points, digits.labels, strict=True):
        height = rng.uniform(100, 300)
        arguments.append((points, height, float(rng.choice(aspects[label])), height * rng.uniform(0.05, 0.14)))
    views = drawn_views(pen_digit, arguments)
    return views_set(views, digits.labels.tolist())

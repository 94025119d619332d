"""Boxes and the coordinate frames they move between, in one place.

A box is (x0, y0, x1, y1) with x1/y1 exclusive. The pipeline's frames, from the person's picture
inwards: the input's pixels; the working copy (the ink's surroundings, reduced by a whole factor
when large, `WorkingCopy`); the detector's letterboxed canvas (`Letterbox`); and the 28x28 MNIST
frame of each digit the classifier reads (`views.mnist_view`; nothing maps back from it). Boxes
map back from the canvas to the working copy to the input's pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mnist_demo.preprocessing import Ink, ink_box, mask_box

Box = tuple[int, int, int, int]


# The detector looks at the ink's surroundings: the ink box grown by this fraction of its longest side.
INK_SURROUNDINGS = 0.15


@dataclass(frozen=True)
class Letterbox:
    """Where a region of the input sits inside the detector's square canvas."""

    scale: float
    offset_x: float  # canvas position of the region's corner
    offset_y: float
    region_x: int  # the region's corner in the input
    region_y: int

    def to_input(self, boxes: torch.Tensor) -> torch.Tensor:
        """Canvas-pixel boxes (K, 4) -> input-pixel boxes."""
        shift = torch.tensor([self.offset_x, self.offset_y, self.offset_x, self.offset_y])
        origin = torch.tensor([self.region_x, self.region_y, self.region_x, self.region_y])
        return (boxes - shift) / self.scale + origin


def surroundings(ink_box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The ink box grown by INK_SURROUNDINGS of its longest side, within the picture."""
    x0, y0, x1, y1 = ink_box
    pad = INK_SURROUNDINGS * max(x1 - x0, y1 - y0)
    grown = (int(x0 - pad), int(y0 - pad), int(np.ceil(x1 + pad)), int(np.ceil(y1 + pad)))
    return max(0, grown[0]), max(0, grown[1]), min(width, grown[2]), min(height, grown[3])


# The pipeline reads the ink's surroundings from a copy reduced by a whole factor when the input
# is large: the models see a 96-px canvas and 28-px frames, so finer pixels only cost time (an
# 800x800 sketch: a ninth of the pixels). Like torchvision's detection transforms, which resize
# every input and map the boxes back. A drawing is reduced as far as its ink stays this tall...
WORK_INK_HEIGHT = 96
# ...a photo, whose faint noise spreads "ink" over all of it, to this size on its longest side.
WORK_PHOTO_SIDE = 1000


def working_factor(ink: Ink, ink_box: tuple[int, int, int, int]) -> int:
    """By how much the working copy of `ink`, whose ink box is `ink_box`, is reduced."""
    if ink.clean:
        return max(1, (ink_box[3] - ink_box[1]) // WORK_INK_HEIGHT)
    return max(1, max(ink.size) // WORK_PHOTO_SIDE)


@dataclass(frozen=True)
class WorkingCopy:
    """The ink's surroundings, cropped from the input and reduced by a whole `factor` (each
    working pixel the mean of factor x factor input pixels), so positions map back exactly."""

    ink: Ink
    factor: int
    origin: tuple[int, int]  # the input pixel at the working copy's (0, 0)

    def to_input(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A box in working pixels -> the same box in input pixels."""
        (x, y), k = self.origin, self.factor
        return x + box[0] * k, y + box[1] * k, x + box[2] * k, y + box[3] * k


def working_copy(ink: Ink, region: tuple[int, int, int, int], factor: int) -> WorkingCopy:
    """`region` of `ink` (input pixels) reduced by `factor` (an area average); the region grows
    to whole working pixels, the input's edge padded with paper."""
    x0, y0, x1, y1 = region
    if factor == 1:
        patch = ink.values[y0:y1, x0:x1]
        values = patch if ink.full == 1 else np.multiply(patch, np.float32(1 / ink.full), dtype=np.float32)
        return WorkingCopy(Ink(values, ink.clean), 1, (x0, y0))
    width, height = -(-(x1 - x0) // factor) * factor, -(-(y1 - y0) // factor) * factor
    # Pillow's crop pads past the edge with 0 (paper) and its reduce is the exact block mean,
    # in float ('F') so that faint ink keeps its value: twice as fast as torch's avg_pool2d here.
    patch = Image.fromarray(ink.values).crop((x0, y0, x0 + width, y0 + height))
    reduced = np.asarray(patch.convert("F").reduce(factor)) / np.float32(ink.full)
    return WorkingCopy(Ink(reduced, ink.clean), factor, (x0, y0))


def working_copy_of(ink: Ink, ink_box: tuple[int, int, int, int]) -> WorkingCopy:
    """The working copy the pipeline reads: the surroundings of the ink, whose box is `ink_box`,
    reduced when large."""
    width, height = ink.size
    return working_copy(ink, surroundings(ink_box, width, height), working_factor(ink, ink_box))


def union(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """The smallest box holding all of `boxes`."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def round_box(box: Sequence[float], width: int, height: int) -> Box:
    """A box of real coordinates -> the whole pixels it touches, within a (width, height) picture."""
    x0, y0, x1, y1 = box
    return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
            min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


def snap_to_ink(ink_here: np.ndarray, region: Box) -> Box | None:
    """The ink box inside `region`: the detector's box brought onto the ink it encloses."""
    x0, y0, x1, y1 = region
    tight = ink_box(ink_here[y0:y1, x0:x1].astype(np.float32))
    return None if tight is None else (x0 + tight[0], y0 + tight[1], x0 + tight[2], y0 + tight[3])


def box_on_input(work: WorkingCopy, box: Box | None, inked: np.ndarray | None) -> Box | None:
    """A box of working pixels -> input pixels. From a reduced copy, and given the input's ink
    mask, snapped to the input's own ink within a working pixel of it: boxes keep the input's
    precision (an averaged pixel of faint edges can fall below the ink rule)."""
    if box is None:
        return None
    x0, y0, x1, y1 = (int(value) for value in work.to_input(box))
    if work.factor == 1 or inked is None:
        return x0, y0, x1, y1
    grow, (height, width) = work.factor, inked.shape
    x0, y0, x1, y1 = max(0, x0 - grow), max(0, y0 - grow), min(width, x1 + grow), min(height, y1 + grow)
    tight = mask_box(inked[y0:y1, x0:x1])
    return None if tight is None else (x0 + tight[0], y0 + tight[1], x0 + tight[2], y0 + tight[3])


def overlapping(boxes: list[Box]) -> bool:
    """Do any two of `boxes` overlap?"""
    return any(min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
               for a, b in itertools.combinations(boxes, 2))


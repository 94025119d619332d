"""How well the predictor reads whole numbers written in a row, the way people write them on the
app's 1200x480 Sketchpad: MNIST test digits redrawn with a pen (benchmarks.synthetic), 100 numbers
of each length 1 to 6 per spacing, each digit used once per spacing. Prints the share of numbers
read exactly, per spacing, per length and overall, and the share found with as many digits as
written (`count_accuracy`: whether a number's digits were found, however they were read), and the
share whose every digit, written alone at its place, size and pen, is read right
(`alone_accuracy`: what finding and framing the digits perfectly could reach) with how each digit
written alone came out (`alone_digits`: right, found as several digits, not found, misread), and
where the numbers read wrong went wrong (`wrong_by_stage`, `wrong_stage`). `in_context` splits
the numbers by both readings: `lost` read wrong though every digit alone is read right (what the
neighbours cost: finding, grouping, framing), `both_wrong` read wrong with a digit that is read
wrong alone too (the digit itself), `saved` read right though a digit alone is not.

- wide: 100-200 px tall, pens of a twentieth to an eighth of that, 8-40 px apart, bottoms on one
  level line (as this benchmark always wrote them: the same seed gives the same numbers).
- close: neighbours' ink boxes -6 to 20 px apart (slightly overlapping to near, as in the issue's
  hold-out set of close-written numbers), each pair its own gap; numbers 100-200 px tall, each digit
  0.75-1.15 of that, on a line slanted up to 8 degrees, with a pen of a fortieth to a sixth of it.
- touching: as close, but each digit is moved left until its strokes meet its neighbour's, then
  0-4 px further, so the strokes touch or cross; never more than half the narrower digit's width
  into its neighbour's box (one that would slide that far under a 7's bar stops short instead).

Numbers that would not fit the canvas (less a 40 px margin) are written smaller. (`python -m
mnist_demo evaluate` scores the detector alone, on its own 96x96 canvases; this is what a person
drawing a number gets from the whole pipeline.)

    MNIST_DATA_DIR=../shared/data python -m benchmarks.numbers --out benchmarks/results/numbers.json
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.common import environment, write_result
from benchmarks.synthetic import Box, as_sketchpad, pen_drawing, write_number
from mnist_demo.data import DigitSet, ink_mask, load_digits, resolve_data_dir
from mnist_demo.frames import working_copy_of
from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.postprocess import WorkingInk
from mnist_demo.prediction import Timer
from mnist_demo.preprocessing import mask_box, to_ink
from mnist_demo.ui import CANVAS_SIZE

SPACINGS = ("wide", "close", "touching")
LENGTHS = range(1, 7)
REPORTED_FAILURES = 10
CANVAS = (CANVAS_SIZE[1], CANVAS_SIZE[0])  # (H, W)
MARGIN = 40  # px of blank paper kept around a close or touching number
CLOSE_GAP = (-6, 20)  # px between neighbours' ink boxes, both ends included
TOUCHING_CROSS = (0, 4)  # px a digit's strokes run into its neighbour's, once they meet
HEIGHT = (100, 200)  # a number's height in px, before its digits vary
HEIGHT_SPREAD = (0.75, 1.15)  # each digit's height as a share of its number's
PEN = (1 / 40, 1 / 6)  # pen width as a share of the number's height, fine to thick (log-uniform)
SLANT_DEGREES = 8  # the line of writing rises or falls by up to this
BASELINE_JITTER = 0.04  # each digit's bottom off the line by up to this share of the height
MOST_SHARED = 1 / 2  # touching: at most this share of the narrower digit's width under its neighbour's box
INK_LEVEL = 0.5  # where a pen's anti-aliased edge counts as ink, for digits to meet


@dataclass(frozen=True)
class WrittenNumber:
    """One number on the canvas, with the truth about it."""

    truth: str  # the digits' labels, left to right
    ink: np.ndarray  # (H, W) uint8
    boxes: tuple[Box, ...]  # each digit's ink box, x1/y1 exclusive
    digit_inks: tuple[np.ndarray, ...]  # each digit's own 8-bit ink, as written in its box

    def alone(self, index: int) -> np.ndarray:
        """The canvas with only the `index`th digit written on it, at its place, size and pen."""
        ink = np.zeros_like(self.ink)
        x0, y0, x1, y1 = self.boxes[index]
        ink[y0:y1, x0:x1] = self.digit_inks[index]
        return ink

    @property
    def gaps(self) -> tuple[int, ...]:
        """Px from each digit's ink box to the next one's (negative: they overlap)."""
        return tuple(right[0] - left[2] for left, right in itertools.pairwise(self.boxes))


def wide_numbers(digits: DigitSet, per_length: int, seed: int) -> Iterator[WrittenNumber]:
    """The numbers this benchmark has always written, in the same order for the same seed."""
    rng = np.random.default_rng(seed)
    order = iter(rng.permutation(len(digits)).tolist())
    for _ in range(per_length):
        for length in LENGTHS:
            chosen = [next(order) for _ in range(length)]
            height = int(rng.integers(100, 200))
            patches = [pen_drawing(digits.images[index].numpy(), int(height * rng.uniform(0.85, 1.1)),
                                   max(3, height // int(rng.integers(8, 20)))) for index in chosen]
            ink, boxes = write_number(patches, int(rng.integers(8, 40)), CANVAS)
            own = tuple(ink[y0:y1, x0:x1].copy() for x0, y0, x1, y1 in boxes)  # 8 px apart or more: no other ink
            yield WrittenNumber("".join(str(int(digits.labels[index])) for index in chosen), ink, tuple(boxes), own)


def _rows(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of a (H, W) mask: whether it has ink, its leftmost and its rightmost ink column."""
    return mask.any(axis=1), mask.argmax(axis=1), mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)


def meeting_x(placed: list[tuple[int, int, np.ndarray]], mask: np.ndarray, top: int) -> int | None:
    """The left edge at which `mask` (its top at `top`), coming from the right, first touches the
    ink of the `placed` (x, y, mask) digits on a shared row; None when no row is shared."""
    has_ink, leftmost, _ = _rows(mask)
    meeting = None
    for x, y, other in placed:
        other_ink, _, rightmost = _rows(other)
        start, stop = max(top, y), min(top + len(mask), y + len(other))
        if start >= stop:
            continue
        rows, other_rows = slice(start - top, stop - top), slice(start - y, stop - y)
        shared = has_ink[rows] & other_ink[other_rows]
        if shared.any():
            needed = int((x + rightmost[other_rows] + 1 - leftmost[rows])[shared].max())
            meeting = needed if meeting is None else max(meeting, needed)
    return meeting


def place_digits(patches: list[np.ndarray], gaps: list[int], touching: bool, slope: float,
                 drops: list[float]) -> list[tuple[int, int]]:
    """(x, y) of each patch's top left, left to right on a line of `slope` (dy/dx), each bottom
    `drops` px below it. Close: `gaps` px between neighbours' ink boxes. Touching: each digit moved
    left until its ink meets the ink already written, then `gaps` px further (but never more than
    MOST_SHARED of its width into its neighbour's box)."""
    corners: list[tuple[int, int]] = []
    placed: list[tuple[int, int, np.ndarray]] = []
    for index, patch in enumerate(patches):
        height, width = patch.shape
        x = 0
        if index:
            previous_x, previous_width = corners[-1][0], patches[index - 1].shape[1]
            x = previous_x + previous_width + (0 if touching else gaps[index - 1])
        top = round(slope * (x + width / 2) + drops[index]) - height
        mask = patch >= INK_LEVEL
        if touching and index:
            meeting = meeting_x(placed, mask, top)
            if meeting is not None:
                # a digit slid far under its neighbour's overhang (a 7's bar, say) would be written
                # over it: then it stops short, and they do not touch
                deepest = previous_x + previous_width - round(MOST_SHARED * min(previous_width, width))
                x = max(meeting - gaps[index - 1], deepest)
        corners.append((x, top))
        placed.append((x, top, mask))
    return corners


def write_digits(patches: list[np.ndarray], corners: list[tuple[int, int]],
                 canvas: tuple[int, int] = CANVAS) -> tuple[np.ndarray, tuple[Box, ...], tuple[np.ndarray, ...]]:
    """Float ink patches pasted at their (x, y) corners on a blank (H, W) canvas, overlapping ink
    kept at its darkest -> 8-bit ink, each digit's ink box and each digit's own 8-bit ink."""
    ink = np.zeros(canvas, dtype=np.uint8)
    boxes, own = [], []
    for patch, (x, y) in zip(patches, corners, strict=True):
        region = ink[y:y + patch.shape[0], x:x + patch.shape[1]]
        if region.shape != patch.shape:
            raise ValueError(f"a {patch.shape} digit at {(x, y)} does not fit the {canvas} canvas")
        own.append(np.round(patch * 255).astype(np.uint8))
        np.maximum(region, own[-1], out=region)
        boxes.append((x, y, x + patch.shape[1], y + patch.shape[0]))
    return ink, tuple(boxes), tuple(own)


def close_number(images: list[np.ndarray], spacing: str,
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[Box, ...], tuple[np.ndarray, ...]]:
    """28x28 MNIST digits written as one close or touching number somewhere on the canvas, smaller
    if it would not fit -> 8-bit ink, each digit's ink box and each digit's own ink."""
    count = len(images)
    height = int(rng.integers(*HEIGHT))
    sizes = height * rng.uniform(*HEIGHT_SPREAD, count)
    pen = height * float(np.exp(rng.uniform(*np.log(PEN))))
    slope = float(np.tan(np.deg2rad(rng.uniform(-SLANT_DEGREES, SLANT_DEGREES))))
    drops = rng.uniform(-BASELINE_JITTER, BASELINE_JITTER, count) * height
    if spacing == "close":
        gaps = rng.integers(CLOSE_GAP[0], CLOSE_GAP[1] + 1, count - 1).tolist()
    else:
        gaps = rng.integers(TOUCHING_CROSS[0], TOUCHING_CROSS[1] + 1, count - 1).tolist()
    corner = rng.random(2)
    room = np.array([CANVAS[1] - 2 * MARGIN, CANVAS[0] - 2 * MARGIN])  # x, y
    scale = 1.0
    while True:
        # pen_drawing sizes a digit by its longest side: a wide one (a 0, say) comes out a little shorter
        patches = [pen_drawing(image, max(8, round(size * scale)), max(2.0, pen * scale))
                   for image, size in zip(images, sizes, strict=True)]
        corners = np.array(place_digits(patches, gaps, spacing == "touching", slope, list(drops * scale)))
        ends = corners + np.array([patch.shape[::-1] for patch in patches])
        start, extent = corners.min(axis=0), ends.max(axis=0) - corners.min(axis=0)
        if (extent <= room).all():
            break
        scale *= 0.97 * float((room / extent).min())
    shift = MARGIN + np.round(corner * (room - extent)).astype(int) - start
    return write_digits(patches, [tuple(map(int, xy)) for xy in corners + shift])


def close_numbers(digits: DigitSet, spacing: str, per_length: int, seed: int) -> Iterator[WrittenNumber]:
    """Close or touching numbers of each length in turn, reproducible from `seed`, each digit once."""
    if spacing not in ("close", "touching"):
        raise ValueError(f"spacing must be close or touching; got {spacing!r}")
    rng = np.random.default_rng([seed, SPACINGS.index(spacing)])
    order = iter(rng.permutation(len(digits)).tolist())
    for _ in range(per_length):
        for length in LENGTHS:
            chosen = [next(order) for _ in range(length)]
            ink, boxes, own = close_number([digits.images[index].numpy() for index in chosen], spacing, rng)
            yield WrittenNumber("".join(str(int(digits.labels[index])) for index in chosen), ink, boxes, own)


def written_numbers(digits: DigitSet, spacing: str, per_length: int, seed: int) -> Iterator[WrittenNumber]:
    """The benchmark's numbers for one spacing."""
    if spacing == "wide":
        return wide_numbers(digits, per_length, seed)
    return close_numbers(digits, spacing, per_length, seed)


# How a digit written alone came out (`alone_outcome`), counted over all digits in `alone_digits`
ALONE_OUTCOMES = ("right", "several", "none", "misread")


def alone_outcome(label: str, number: str) -> str:
    """How a digit `label`, written alone, was read as `number`: right, found as several digits
    (one digit proposed twice, or in parts), none found (or refused), or misread."""
    if number == label:
        return "right"
    if len(number) > 1:
        return "several"
    return "misread" if number else "none"


# A number read in context against its digits read alone (`context_outcome`), counted in `in_context`
CONTEXT_OUTCOMES = ("both_right", "lost", "both_wrong", "saved")


def context_outcome(read_right: bool, alone_right: bool) -> str:
    """How a number came out against its digits written alone (`alone_right`: every one read
    right): both right, lost among its neighbours, wrong both ways, or saved by them."""
    if read_right:
        return "both_right" if alone_right else "saved"
    return "lost" if alone_right else "both_wrong"


# Where a number read wrong went wrong (`wrong_stage`), in the order of Predictor.predict's stages
STAGES = ("boxes", "grouped", "refused", "read_apart_or_together", "misread")


def wrong_stage(predictor: Predictor, written: WrittenNumber, number: str) -> str:
    """The first of Predictor.predict's stages, run one at a time here, after which a number read
    as `number` no longer has as many digits as written: "boxes" (the detector proposed more or
    fewer boxes than digits), "grouped" (`group_parts` made more or fewer digits of as many boxes),
    "refused" (the classifier took a digit found for not a digit), "read_apart_or_together"
    (`read_parts_apart`, `read_neighbours_together` or `join_refused_parts` changed the count);
    "misread" when the count is right and a digit is read wrong."""
    if len(number) == len(written.truth):
        return "misread"
    ink = to_ink(as_sketchpad(written.ink))
    truth_box = mask_box(ink_mask(ink.values))
    work = working_copy_of(ink, truth_box)
    found = predictor.find_digits(WorkingInk.of(work), work, Timer())
    count = len(written.truth)
    if sum(max(1, len(digit.parts)) for digit in found) != count:
        return "boxes"
    if len(found) != count:
        return "grouped"
    if any(digit.refused for digit in predictor.classify(found)):
        return "refused"
    return "read_apart_or_together"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spacing", choices=(*SPACINGS, "all"), default="all",
                        help="which numbers to write (default: all)")
    parser.add_argument("--per-length", type=int, default=100, help="numbers of each length (default: 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_predictor(args.weights, device="cpu")
    digits = load_digits(resolve_data_dir(None), train=False)
    results = {}
    total = args.per_length * len(LENGTHS)  # numbers per spacing
    for spacing in SPACINGS if args.spacing == "all" else (args.spacing,):
        started = time.perf_counter()
        read = {length: 0 for length in LENGTHS}
        counted = 0  # numbers found with as many digits as written: finding, before reading
        alone = 0  # numbers whose every digit, written alone, is read right: what separation could reach
        alone_digits = Counter(dict.fromkeys(ALONE_OUTCOMES, 0))  # every outcome listed, in this order
        in_context = Counter(dict.fromkeys(CONTEXT_OUTCOMES, 0))
        failures = []
        stages = dict.fromkeys(STAGES, 0)
        for written in written_numbers(digits, spacing, args.per_length, args.seed):
            number = predictor.predict(as_sketchpad(written.ink)).number
            read[len(written.truth)] += number == written.truth
            counted += len(number) == len(written.truth)
            outcomes = [alone_outcome(label, predictor.predict(as_sketchpad(written.alone(index))).number)
                        for index, label in enumerate(written.truth)]
            alone_right = all(outcome == "right" for outcome in outcomes)
            alone += alone_right
            alone_digits.update(outcomes)
            in_context[context_outcome(number == written.truth, alone_right)] += 1
            if number != written.truth:
                stages[wrong_stage(predictor, written, number)] += 1
                if len(failures) < REPORTED_FAILURES:
                    failures.append((written.truth, number))
        results[spacing] = {
            "number_accuracy": round(sum(read.values()) / total, 4),
            "by_length": {str(length): round(count / args.per_length, 4) for length, count in read.items()},
            "count_accuracy": round(counted / total, 4),
            "alone_accuracy": round(alone / total, 4),
            "alone_digits": dict(alone_digits),
            "in_context": {outcome: count for outcome, count in in_context.items() if outcome != "both_right"},
            "wrong_by_stage": stages,
            "first_failures": failures, "seconds": round(time.perf_counter() - started, 1),
        }
    write_result({"benchmark": "numbers", **environment(), "per_length": args.per_length, "seed": args.seed,
                  "spacings": results}, args.out)


if __name__ == "__main__":
    main()

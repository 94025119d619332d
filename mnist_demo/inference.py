"""The predictor: one input through the pipeline and all three models, as one frozen result."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.constants import DETECTION_THRESHOLD, IMAGE_SIZE, NOT_A_DIGIT, NUM_CLASSES
from mnist_demo.data import ink_mask, normalise
from mnist_demo.detection import detect
from mnist_demo.devices import pick_device
from mnist_demo.metrics import Detections, dice, iou, paired_box_iou, share_inside
from mnist_demo.models import Detector
from mnist_demo.preprocessing import ImageSource, Ink, ink_box, mask_box, to_ink
from mnist_demo.serving import Network, OnnxDetector, serve
from mnist_demo.views import (
    STROKE_LEVEL,
    WorkingCopy,
    letterbox,
    mnist_like_strokes,
    mnist_view,
    surroundings,
    working_copy,
    working_factor,
)

# The classifier reads the ink inside the detector's box grown by this fraction each side,
# so a box that clips a stroke still gives the whole digit.
BOX_MARGIN = 0.1
# Ink on more than this share of the picture is not writing on paper (and the polarity rule,
# which takes the border for background, no longer holds).
MAX_INK_COVERAGE = 0.5

BLANK = "No digit found: the picture is blank."
NOTHING_STANDS_OUT = ("No digit found: nothing on the picture stands out from its background as pen strokes "
                      "(a blank page, or one covered in ink or scribbles?).")
NOT_DIGIT_LIKE = "No digit found: the picture does not look like a digit."
COVERED = ("No digit found: ink covers most of the picture. "
           "Clear the canvas and write digits with some space around them.")

Box = tuple[int, int, int, int]


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
    mask_dice: float  # U-Net mask against the thresholded digit
    mask_iou: float
    box_iou: float  # detector box against the thresholded ground truth's box

    @property
    def confidence(self) -> float:
        return max(self.probabilities)


@dataclass(frozen=True)
class Prediction:
    """Everything the models say about one input; boxes and masks are in the input's pixels.

    `digits` holds every digit read, left to right, and `number` their labels as a string; the
    single-digit fields (label, probabilities, box, digit, metrics, ...) describe the most
    confident digit, so a one-digit input reads as before.
    """

    label: int | None  # the classifier's answer; None when there is no digit
    probabilities: tuple[float, ...]  # 10 classifier probabilities (all 0 when there is no digit)
    box: Box | None  # the detector's box snapped to the ink inside it (x0, y0, x1, y1), x1/y1 exclusive
    mask: np.ndarray  # (H, W) bool, the U-Net's ink mask of every digit
    digit: np.ndarray  # (28, 28) float32, what the classifier saw (white on black, 0..1)
    metrics: dict[str, float]  # mask_dice, mask_iou, box_iou against the thresholded ground truth
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


def solid_ink(ink: Ink) -> np.ndarray:
    """Where the ink is, as bool: every inked pixel of a drawing; on photos only solid ink, with
    single specks opened away, so that they cannot stretch a box."""
    if ink.clean:
        return ink_mask(ink.values)
    solid = torch.from_numpy((ink.values >= 0.5).astype(np.float32))[None, None]
    return F.max_pool2d(-F.max_pool2d(-solid, 3, 1, 1), 3, 1, 1)[0, 0].numpy() > 0


def follow_strokes(ink_here: np.ndarray, region: tuple[float, float, float, float],
                   step: float = 0.05, rounds: int = 20) -> Box:
    """Grow `region` on each side where ink crosses its edge, so a box that clips a stroke (the
    foot of a 2, a tail reaching the canvas edge) still gives the whole digit."""
    height, width = ink_here.shape
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(width, int(np.ceil(region[2]))), min(height, int(np.ceil(region[3])))
    for _ in range(rounds):
        grow = max(1, int(step * max(x1 - x0, y1 - y0)))
        sides = tuple(map(bool, (x0 > 0 and ink_here[y0:y1, x0].any(), y0 > 0 and ink_here[y0, x0:x1].any(),
                                 x1 < width and ink_here[y0:y1, x1 - 1].any(),
                                 y1 < height and ink_here[y1 - 1, x0:x1].any())))
        if not any(sides):
            break
        x0, y0 = max(0, x0 - grow * sides[0]), max(0, y0 - grow * sides[1])
        x1, y1 = min(width, x1 + grow * sides[2]), min(height, y1 + grow * sides[3])
    return x0, y0, x1, y1


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


# Two detections whose boxes touch are parts of one digit when together they are no wider than
# this times their height (a digit is about as wide as tall at most, two side by side are wider)...
MAX_DIGIT_ASPECT = 1.1
# ...and the shorter is less than this share of the taller: the loop and the stem of a split 2 differ
# in height, two digits written side by side on a line do not (a 1 beside a 4 is no wider than one digit).
PART_HEIGHT_SHARE = 0.6


def union(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """The smallest box holding all of `boxes`."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def same_digit(first: Sequence[float], second: Sequence[float]) -> bool:
    """Are two detection boxes parts of one digit? Yes when they share half the narrower one's
    width (a bar above a stroke, a tail found twice), or when they touch, differ in height and
    their union is shaped like one digit (the loop and the stem of a 2 found apart), not like two
    side by side. (Boxes as plain numbers: a handful of them per input, where a tensor operation
    per comparison would cost more than the arithmetic.)"""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = map(float, first), map(float, second)
    if min(ax1, bx1) - max(ax0, bx0) >= 0.5 * max(min(ax1 - ax0, bx1 - bx0), 1e-6):
        return True
    short, tall = sorted((ay1 - ay0, by1 - by0))
    if short >= PART_HEIGHT_SHARE * tall:
        return False
    grow_x, grow_y = 0.05 * max(ax1 - ax0, bx1 - bx0), 0.05 * max(ay1 - ay0, by1 - by0)
    touching = max(ax0, bx0) <= min(ax1, bx1) + grow_x and max(ay0, by0) <= min(ay1, by1) + grow_y
    x0, y0, x1, y1 = union([(ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1)])
    return touching and x1 - x0 <= MAX_DIGIT_ASPECT * (y1 - y0)


# A detection holding two more confident ones side by side, each at least this share inside it, is
# those digits read as one (the detector adds such a box over a pair of close 1s).
SPANNED_SHARE = 0.7


def not_spanning(boxes: torch.Tensor) -> list[int]:
    """The detections (most confident first) to keep: all but those whose box holds two more
    confident ones that are not parts of one digit."""
    if len(boxes) <= 2:  # it takes three: one holding two others
        return list(range(len(boxes)))
    inside, listed = share_inside(boxes, boxes).tolist(), boxes.tolist()
    keep = []
    for index in range(len(listed)):
        held = [listed[other] for other in range(index) if inside[other][index] >= SPANNED_SHARE]
        if all(same_digit(first, second) for first, second in itertools.combinations(held, 2)):
            keep.append(index)
    return keep


def group_parts(boxes: Sequence[Sequence[float]]) -> list[list[int]]:
    """Group detections (most confident first) that are parts of one digit, merging groups until
    no two are `same_digit`; each group lists its detections most confident first."""
    groups = [[index] for index in range(len(boxes))]
    extents = [tuple(box) for box in boxes]
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(groups)), 2):
            if same_digit(extents[a], extents[b]):
                groups[a] = sorted(groups[a] + groups.pop(b))
                extents[a] = union([extents[a], extents.pop(b)])
                merged = True
                break
    return groups


# A stroke (connected ink) lying at least this share inside another digit's box, and less than half
# inside this digit's own box, is the neighbour's, even where the two boxes overlap.
NEIGHBOUR_STROKE_SHARE = 0.9


def neighbours_strokes(strokes: np.ndarray, own: Box, others: list[Box]) -> np.ndarray:
    """Where the strokes that belong to a neighbour are (bool, like `strokes`, scipy.ndimage.label's
    connected ink): those nearly all inside another digit's box and less than half inside `own`.
    A detector box can reach over a neighbour (a 1's box over the end of the 7 beside it); its
    overlap with the neighbour's box is only blanked for the strokes that are the neighbour's."""
    count = int(strokes.max()) + 1
    sizes = np.bincount(strokes.ravel(), minlength=count).clip(min=1)

    def share_in(box: Box) -> np.ndarray:  # of each stroke's pixels
        x0, y0, x1, y1 = box
        return np.bincount(strokes[y0:y1, x0:x1].ravel(), minlength=count) / sizes

    theirs = (np.max([share_in(box) for box in others], axis=0) >= NEIGHBOUR_STROKE_SHARE) & (share_in(own) < 0.5)
    theirs[0] = False  # label 0 is the paper
    return theirs[strokes]


def keep_own_ink(values: np.ndarray, own: Box, others: list[Box], theirs: np.ndarray | None = None) -> np.ndarray:
    """`values` with the other digits' boxes blanked (except where they overlap this digit's
    own box), so that touching neighbours neither stretch this digit's region nor appear in its
    view; and, where given (`neighbours_strokes`), the neighbours' strokes wherever they are."""
    if not others:
        return values
    kept = values.copy()
    for x0, y0, x1, y1 in others:
        kept[y0:y1, x0:x1] = 0
    x0, y0, x1, y1 = own
    kept[y0:y1, x0:x1] = values[y0:y1, x0:x1]
    if theirs is not None:
        kept[theirs] = 0
    return kept


def overlapping(boxes: list[Box]) -> bool:
    """Do any two of `boxes` overlap?"""
    return any(min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
               for a, b in itertools.combinations(boxes, 2))


def _round_box(box: Sequence[float], width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
            min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


class Predictor:
    """The three models on one device as `serving.serve` runs them, ready for `predict`."""

    def __init__(self, classifier: Network, unet: Network, detector: Detector | OnnxDetector,
                 device: torch.device, not_a_digit_threshold: float) -> None:
        self.classifier, self.unet, self.detector, self.device = classifier, unet, detector, device
        # a digit whose NOT_A_DIGIT probability reaches this is not read (chosen on validation data
        # when the classifier was trained, and saved in its card)
        self.not_a_digit_threshold = not_a_digit_threshold

    def _empty(self, ink: Ink, message: str, timer: Timer) -> Prediction:
        width, height = ink.size
        timer.lap("finish")
        return Prediction(label=None, probabilities=(0.0,) * NUM_CLASSES, box=None,
                          mask=np.zeros((height, width), dtype=bool),
                          digit=np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32),
                          metrics={}, message=message, timings_ms=timer.spent)

    @torch.inference_mode()
    def predict(self, image: ImageSource) -> Prediction:
        """Read the digits in `image` (Sketchpad dict, PIL image, numpy array or path), left to right.

        >>> predictor = load_predictor(device="cpu")
        >>> predictor.predict("examples/drawn_3.png").label
        3
        """
        timer = Timer()
        ink = to_ink(image)
        width, height = ink.size
        inked = ink_mask(ink.values)  # the thresholded ground truth
        truth_box = mask_box(inked)
        if truth_box is None:
            return self._empty(ink, BLANK if ink.clean else NOTHING_STANDS_OUT, timer)
        if float((ink.values[::4, ::4] > STROKE_LEVEL * ink.full).mean()) > MAX_INK_COVERAGE:  # every 16th pixel
            return self._empty(ink, COVERED, timer)
        # From here on the models' work is done on the ink's surroundings, reduced when large.
        work = working_copy(ink, surroundings(truth_box, width, height), working_factor(ink, truth_box))
        values, ink_here = work.ink.values, solid_ink(work.ink)
        work_height, work_width = values.shape
        timer.lap("preprocess")
        canvas, placement = letterbox(work.ink, canvas_size=self.detector.config.canvas_size)
        canvas, grown = mnist_like_strokes(canvas, (truth_box[3] - truth_box[1]) / work.factor * placement.scale)
        found = detect(self.detector, normalise(canvas).to(self.device), score_threshold=DETECTION_THRESHOLD,
                       prune_proposals=True)[0].to("cpu")
        if grown:  # thickened strokes widen every box by as much: take it back
            found = Detections(found.boxes + torch.tensor([grown, grown, -grown, -grown]), found.labels, found.scores)
        timer.lap("detector")
        if len(found.scores) == 0:
            return self._empty(ink, NOT_DIGIT_LIKE, timer)
        whole = not_spanning(found.boxes)
        found = Detections(found.boxes[whole], found.labels[whole], found.scores[whole])
        boxes = placement.to_input(found.boxes).tolist()  # in working pixels
        groups = group_parts(boxes)
        # Parts of one digit are read as one: the union of their boxes, the best part's label and score.
        digit_boxes = [_round_box(union([boxes[part] for part in group]), work_width, work_height) for group in groups]
        views, regions = [], []
        # the ink's connected strokes, to tell whose they are where digits' boxes overlap
        strokes = ndimage.label(ink_here)[0] if overlapping(digit_boxes) else None
        for index, box in enumerate(digit_boxes):
            others = digit_boxes[:index] + digit_boxes[index + 1:]
            theirs = neighbours_strokes(strokes, box, others) if strokes is not None and others else None
            own_values, own_ink = keep_own_ink(values, box, others, theirs), keep_own_ink(ink_here, box, others, theirs)
            grow_x, grow_y = BOX_MARGIN * (box[2] - box[0]), BOX_MARGIN * (box[3] - box[1])
            region = follow_strokes(own_ink, (box[0] - grow_x, box[1] - grow_y, box[2] + grow_x, box[3] + grow_y))
            views.append(mnist_view(own_values, region))
            regions.append((region, snap_to_ink(own_values, region), own_ink))
        framed = [index for index, view in enumerate(views) if view is not None]
        if not framed:
            return self._empty(ink, NOT_DIGIT_LIKE, timer)
        timer.lap("crop")
        batch = normalise(torch.from_numpy(np.stack([views[i].digit for i in framed])))[:, None].to(self.device)
        chances = torch.softmax(self.classifier(batch).float(), dim=1).cpu()  # (K, 11): the digits, NOT_A_DIGIT
        digit_chances = chances[:, :NOT_A_DIGIT] / chances[:, :NOT_A_DIGIT].sum(dim=1, keepdim=True)
        is_digit = chances[:, NOT_A_DIGIT] < self.not_a_digit_threshold
        kept = [index for index, keep in zip(framed, is_digit.tolist(), strict=True) if keep]
        if not kept:
            return self._empty(ink, NOT_DIGIT_LIKE, timer)
        probabilities = digit_chances[is_digit].tolist()
        batch = batch[is_digit.to(batch.device)]
        digits = np.stack([views[i].digit for i in kept])
        detector_boxes = [_round_box(work.to_input(digit_boxes[index]), width, height) for index in kept]
        timer.lap("classifier")
        mask_logits = self.unet(batch).float()[:, 0].cpu()
        timer.lap("unet")
        mask = np.zeros((height, width), dtype=bool)
        boxes_found, truths_found = [], []
        for row, index in enumerate(kept):
            view, (region, ink_region, own_ink) = views[index], regions[index]
            on_input = replace(view, input_box=work.to_input(view.input_box))
            placed = on_input.mask_on_input(mask_logits[row], width, height)
            if placed is not None:
                (x0, y0, x1, y1), digit_mask = placed
                mask[y0:y1, x0:x1] |= digit_mask
            digit_truth = box_on_input(work, ink_region, inked)
            # on a drawing the solid ink is the ink rule's mask itself, so the box is the ground truth's
            box = digit_truth if ink.clean else box_on_input(work, snap_to_ink(own_ink, region), None)
            boxes_found.append(box)
            truths_found.append(digit_truth)
        scored_against = [truth or detector for truth, detector in zip(truths_found, detector_boxes, strict=True)]
        readouts = self._readouts(digits, mask_logits, detector_boxes, scored_against)
        readings = []
        for row, index in enumerate(kept):
            best_part = groups[index][0]  # detections come most confident first
            readings.append(DigitReading(
                label=int(np.argmax(probabilities[row])),
                probabilities=tuple(round(p, 6) for p in probabilities[row]),
                box=boxes_found[row] or detector_boxes[row],
                detector_box=detector_boxes[row], detector_label=int(found.labels[best_part]),
                detector_score=round(float(found.scores[best_part]), 4),
                truth_box=truths_found[row], digit=views[index].digit, **readouts[row],
            ))
        timer.lap("readouts")
        top = max(readings, key=lambda reading: reading.confidence)
        readings.sort(key=lambda reading: reading.detector_box[0] + reading.detector_box[2])
        return Prediction(
            label=top.label, probabilities=top.probabilities, box=top.box, detector_box=top.detector_box,
            mask=mask, digit=top.digit,
            metrics={"mask_dice": top.mask_dice, "mask_iou": top.mask_iou, "box_iou": top.box_iou},
            detector_label=top.detector_label, detector_score=top.detector_score, truth_box=truth_box,
            timings_ms=timer.spent, digits=tuple(readings), number="".join(str(r.label) for r in readings),
        )

    @staticmethod
    def _readouts(digits: np.ndarray, mask_logits: torch.Tensor, boxes: list[Box],
                  truth_boxes: list[Box]) -> list[dict[str, float]]:
        """Per digit: Dice and IoU of its U-Net mask against its thresholded 28x28 view, and IoU of
        its detector box against its thresholded ground truth's box (all digits in one batch)."""
        truth = ink_mask(torch.from_numpy(digits))
        predicted = mask_logits > 0
        columns = {
            "mask_dice": dice(predicted, truth).tolist(),
            "mask_iou": iou(predicted, truth).tolist(),
            "box_iou": paired_box_iou(torch.tensor(boxes), torch.tensor(truth_boxes)).tolist(),
        }
        return [{name: round(values[row], 4) for name, values in columns.items()} for row in range(len(digits))]


def load_predictor(weights_dir: str | Path | None = None, device: str = "auto", threads: int | None = None
                   ) -> Predictor:
    """Load the classifier, U-Net and detector from `weights_dir` (default: the repo's weights/).

    `device` is "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda" or "mps"; on the CPU the
    models run on `threads` threads (default: as many as torch has, `torch.get_num_threads()`).

    >>> from mnist_demo import load_predictor
    >>> predictor = load_predictor(device="cpu")
    >>> result = predictor.predict("digit.png")
    >>> result.label, result.box, result.metrics["mask_dice"]
    """
    chosen = pick_device(device)
    threads = threads or torch.get_num_threads()
    classifier, unet, detector = (load_checkpoint(name, Path(weights_dir) if weights_dir else None, chosen)[0]
                                  for name in ("classifier", "unet", "detector"))
    return Predictor(*(serve(model, chosen, threads) for model in (classifier, unet, detector)), device=chosen,
                     not_a_digit_threshold=classifier.config.not_a_digit_threshold)

"""The predictor: one input through the pipeline and all three models, as one frozen result.

`Predictor.predict` is a straight line of named stages: find the digits (the detector, on the
working copy of the ink), read each one (its 28x28 MNIST view, the classifier), segment the ink
(the U-Net, at the picture's resolution) and assemble the result in the input's pixels.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.constants import DETECTION_THRESHOLD, IMAGE_SIZE, NOT_A_DIGIT, NUM_CLASSES
from mnist_demo.data import ink_mask, normalise
from mnist_demo.detection import detect
from mnist_demo.devices import pick_device
from mnist_demo.frames import (
    Box,
    WorkingCopy,
    box_on_input,
    round_box,
    union,
    working_copy_of,
)
from mnist_demo.metrics import Detections, dice_and_iou, paired_box_iou
from mnist_demo.models import Detector
from mnist_demo.postprocess import (
    POST_PROCESSING,
    FoundDigit,
    PostProcessing,
    WorkingInk,
    group_parts,
    join_refused_parts,
    touching,
)
from mnist_demo.prediction import DigitReading, Prediction, Timer
from mnist_demo.preprocessing import ImageSource, Ink, mask_box, to_ink
from mnist_demo.segmentation import segment
from mnist_demo.serving import Network, OnnxDetector, serve
from mnist_demo.views import STROKE_LEVEL, letterbox, mnist_like_strokes

BLANK = "No digit found: the picture is blank."
NOTHING_STANDS_OUT = ("No digit found: nothing on the picture stands out from its background as pen strokes "
                      "(a blank page, or one covered in ink or scribbles?).")
NOT_DIGIT_LIKE = "No digit found: the picture does not look like a digit."
COVERED = ("No digit found: ink covers most of the picture. "
           "Clear the canvas and write digits with some space around them.")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: two reads of one view are two
class Classified:
    """A digit found, as the classifier read it; what the reading stage's rules pass on."""

    found: FoundDigit
    probabilities: list[float]  # its 10 digit probabilities
    refused: bool  # taken for not a digit

    @property
    def confidence(self) -> float:
        """How sure the classifier is of its digit; a refusal counts as no confidence."""
        return 0.0 if self.refused else max(self.probabilities)


class Predictor:
    """The three models on one device as `serving.serve` runs them, ready for `predict`."""

    def __init__(self, classifier: Network, unet: Network, detector: Detector | OnnxDetector,
                 device: torch.device, not_a_digit_threshold: float,
                 post_processing: PostProcessing = POST_PROCESSING) -> None:
        self.classifier, self.unet, self.detector, self.device = classifier, unet, detector, device
        # a digit whose NOT_A_DIGIT probability reaches this is not read (chosen on validation data
        # when the classifier was trained, and saved in its card)
        self.not_a_digit_threshold = not_a_digit_threshold
        self.post_processing = post_processing  # as recorded on the detector's card

    @torch.inference_mode()
    def predict(self, image: ImageSource) -> Prediction:
        """Read the digits in `image` (Sketchpad dict, PIL image, numpy array or path), left to right.

        >>> predictor = load_predictor(device="cpu")
        >>> predictor.predict("examples/drawn_3.png").label
        3
        """
        timer = Timer()
        ink = to_ink(image)
        inked = ink_mask(ink.values)  # the thresholded ground truth
        truth_box = mask_box(inked)
        refusal = self.refusal(ink, truth_box)
        if refusal is not None:
            return self._empty(ink, refusal, timer)
        # From here on the models read the ink's surroundings, reduced when large.
        work = working_copy_of(ink, truth_box)
        timer.lap("preprocess")
        framed_from = WorkingInk.of(work)  # the ink each digit is framed from, for both stages
        found = self.find_digits(framed_from, work, timer)
        read = self.read_digits(framed_from, found)
        timer.lap("classifier")
        if not read:
            return self._empty(ink, NOT_DIGIT_LIKE, timer)
        mask = segment(self.unet, ink, work)
        timer.lap("unet")
        return self.assemble(ink, inked, truth_box, work, read, mask, timer)

    def refusal(self, ink: Ink, truth_box: Box | None) -> str | None:
        """Why the picture cannot hold digits (blank, or covered in ink), or None."""
        if truth_box is None:
            return BLANK if ink.clean else NOTHING_STANDS_OUT
        coverage = float((ink.values[::4, ::4] > STROKE_LEVEL * ink.full).mean())  # every 16th pixel
        return COVERED if coverage > self.post_processing.max_ink_coverage else None

    def find_digits(self, ink: WorkingInk, work: WorkingCopy, timer: Timer) -> list[FoundDigit]:
        """Stage 1: the detector's boxes on the working copy of the ink, parts of one digit
        grouped, and each digit's own ink framed as MNIST frames a digit."""
        canvas, placement = letterbox(work.ink, canvas_size=self.detector.config.canvas_size)
        canvas, grown = mnist_like_strokes(canvas, ink.height * placement.scale)
        found = detect(self.detector, normalise(canvas).to(self.device), score_threshold=DETECTION_THRESHOLD,
                       prune_proposals=True)[0].to("cpu")
        if grown:  # thickened strokes widen every box by as much: take it back
            found = Detections(found.boxes + torch.tensor([grown, grown, -grown, -grown]), found.labels, found.scores)
        timer.lap("detector")
        height, width = ink.values.shape
        boxes = placement.to_input(found.boxes).tolist()  # in working pixels
        groups = group_parts(boxes, self.post_processing)
        digit_boxes = [round_box(union([boxes[part] for part in group]), width, height) for group in groups]
        digits = []
        for index, (box, group) in enumerate(zip(digit_boxes, groups, strict=True)):
            best = group[0]  # parts of one digit are read as one, with the best part's label and score
            digit = ink.frame(box, digit_boxes[:index] + digit_boxes[index + 1:], int(found.labels[best]),
                              round(float(found.scores[best]), 4), self.post_processing)
            if digit is not None and len(group) > 1:  # remembered for read_parts_apart
                digit = dataclasses.replace(digit, parts=tuple(round_box(boxes[part], width, height) for part in group))
            if digit is not None:
                digits.append(digit)
        timer.lap("crop")
        return digits

    def classify(self, digits: list[FoundDigit]) -> list[Classified]:
        """The classifier on every digit's view: its 10 digit probabilities, and whether it takes
        it for not a digit."""
        batch = normalise(torch.from_numpy(np.stack([digit.view for digit in digits])))[:, None]
        chances = torch.softmax(self.classifier(batch.to(self.device)).float(), dim=1).cpu()  # (K, 11)
        digit_chances = chances[:, :NOT_A_DIGIT] / chances[:, :NOT_A_DIGIT].sum(dim=1, keepdim=True)
        refused = (chances[:, NOT_A_DIGIT] >= self.not_a_digit_threshold).tolist()
        return [Classified(digit, probabilities, no)
                for digit, probabilities, no in zip(digits, digit_chances.tolist(), refused, strict=True)]

    def read_digits(self, ink: WorkingInk, digits: list[FoundDigit]) -> list[Classified]:
        """Stage 2: the classifier on every digit's view; the digits it reads as digits, with their
        10 probabilities. The classifier also settles what geometry grouped or split: a digit
        grouped from parts stays in parts when it is surer of each part
        (PostProcessing.read_parts_apart), two touching digits become one when it is surer of the
        whole (PostProcessing.read_neighbours_together), and a part it refuses that shares a stroke
        with a digit it read (the short arm of a tick beside its long one, read as a 1) is read
        again with that digit, as one: what they make together decides
        (PostProcessing.join_refused_parts)."""
        if not digits:
            return []
        read = self.classify(digits)
        if self.post_processing.read_parts_apart:
            read = self.read_parts_apart(ink, read)
        if self.post_processing.read_neighbours_together:
            read = self.read_neighbours_together(ink, read)
        if self.post_processing.join_refused_parts:
            read = self.join_refused_parts(ink, read)
        return [digit for digit in read if not digit.refused]

    def read_parts_apart(self, ink: WorkingInk, read: list[Classified]) -> list[Classified]:
        """A digit grouped from parts (group_parts) is read with each part apart too, and stays in
        parts when the classifier is surer of every part than of the whole: a 1 whose narrow box
        overlaps the next digit's by half is grouped with it as if it were a stroke of it found
        twice (PostProcessing.read_parts_apart)."""
        kept: list[Classified] = []
        for whole in read:
            parts = whole.found.parts
            if not parts:
                kept.append(whole)
                continue
            others = [other.found.box for other in read if other is not whole]
            apart = [ink.frame(part, others + list(parts[:number] + parts[number + 1:]),
                               whole.found.detector_label, whole.found.detector_score, self.post_processing)
                     for number, part in enumerate(parts)]
            if any(part is None for part in apart):
                kept.append(whole)
                continue
            apart_read = self.classify(apart)
            if all(part.confidence > whole.confidence for part in apart_read):
                kept += apart_read
            else:
                kept.append(whole)
        return kept

    def read_neighbours_together(self, ink: WorkingInk, read: list[Classified]) -> list[Classified]:
        """Two neighbouring digits whose boxes touch are read as one too, and become one when the
        classifier is surer of the whole than of either part, and clearly surer than of the less
        sure one: a 9 whose loop and stem the detector found as "01", a 2 whose top it found as a 7
        (PostProcessing.read_neighbours_together)."""
        order = sorted(read, key=lambda digit: digit.found.box[0] + digit.found.box[2])
        pairs = [(a, b) for a, b in itertools.pairwise(order) if not a.refused and not b.refused
                 and touching(a.found.box, b.found.box, self.post_processing)]
        if not pairs:
            return read
        height, width = ink.values.shape
        framed = []  # ((a, b), the two framed as one digit)
        for a, b in pairs:
            box = round_box(union([a.found.box, b.found.box]), width, height)
            others = [other.found.box for other in read if other not in (a, b)]
            best = a.found if a.found.detector_score >= b.found.detector_score else b.found
            whole = ink.frame(box, others, best.detector_label, best.detector_score, self.post_processing)
            if whole is not None:
                framed.append(((a, b), whole))
        if not framed:
            return read
        merged: set[Classified] = set()  # the parts read as one
        joined: list[Classified] = []
        for ((a, b), _), whole in zip(framed, self.classify([whole for _, whole in framed]), strict=True):
            if whole.refused or a in merged or b in merged:
                continue
            parts = (a.confidence, b.confidence)
            if whole.confidence > max(max(parts), min(parts) + self.post_processing.together_margin):
                merged |= {a, b}
                joined.append(whole)
        return [digit for digit in read if digit not in merged] + joined

    def join_refused_parts(self, ink: WorkingInk, read: list[Classified]) -> list[Classified]:
        """A part the classifier refuses that shares strokes with a digit it read is read again
        with that digit, as one (postprocess.join_refused_parts; PostProcessing.join_refused_parts)."""
        boxes = [digit.found.box for digit in read]
        joins = join_refused_parts(ink.strokes, boxes, [digit.refused for digit in read])
        if not joins:
            return read
        height, width = ink.values.shape
        kept = {index: boxes[index] for index, digit in enumerate(read) if not digit.refused}
        kept |= {index: round_box(union([boxes[index]] + [boxes[part] for part in parts]), width, height)
                 for index, parts in joins.items()}
        read = list(read)
        for index in joins:
            digit = read[index].found
            joined = ink.frame(kept[index], [box for other, box in kept.items() if other != index],
                               digit.detector_label, digit.detector_score, self.post_processing)
            if joined is not None:
                read[index] = self.classify([joined])[0]
        return read

    def assemble(self, ink: Ink, inked: np.ndarray, truth_box: Box, work: WorkingCopy,
                 read: list[Classified], mask: np.ndarray, timer: Timer) -> Prediction:
        """Stage 4: every digit's boxes and readouts in the input's pixels, left to right; the
        readouts compare the U-Net's mask with the thresholded picture, on the picture's pixels."""
        width, height = ink.size
        readings = []
        for classified in read:
            digit, probabilities = classified.found, classified.probabilities
            detector_box = round_box(work.to_input(digit.box), width, height)
            digit_truth = box_on_input(work, digit.ink_box, inked)
            # on a drawing the solid ink is the ink rule's mask itself, so the box is the ground truth's
            box = (digit_truth if ink.clean else box_on_input(work, digit.solid_box, None)) or detector_box
            x0, y0, x1, y1 = box
            mask_dice, mask_iou = dice_and_iou(mask[y0:y1, x0:x1], inked[y0:y1, x0:x1])
            scored_against = digit_truth or detector_box
            box_iou = float(paired_box_iou(torch.tensor([detector_box]), torch.tensor([scored_against]))[0])
            readings.append(DigitReading(
                label=int(np.argmax(probabilities)), probabilities=tuple(round(p, 6) for p in probabilities),
                box=box, detector_box=detector_box, detector_label=digit.detector_label,
                detector_score=digit.detector_score, truth_box=digit_truth, digit=digit.view,
                mask_dice=round(mask_dice, 4), mask_iou=round(mask_iou, 4), box_iou=round(box_iou, 4),
            ))
        x0, y0 = work.origin
        x1, y1 = x0 + work.ink.size[0] * work.factor, y0 + work.ink.size[1] * work.factor
        whole_dice, whole_iou = dice_and_iou(mask[y0:y1, x0:x1], inked[y0:y1, x0:x1])  # no ink outside
        timer.lap("readouts")
        top = max(readings, key=lambda reading: reading.confidence)
        readings.sort(key=lambda reading: reading.detector_box[0] + reading.detector_box[2])
        return Prediction(
            label=top.label, probabilities=top.probabilities, box=top.box, detector_box=top.detector_box,
            mask=mask, digit=top.digit,
            metrics={"mask_dice": round(whole_dice, 4), "mask_iou": round(whole_iou, 4),
                     "box_iou": round(float(np.mean([reading.box_iou for reading in readings])), 4)},
            detector_label=top.detector_label, detector_score=top.detector_score,
            truth_box=truth_box,
            timings_ms=timer.spent, digits=tuple(readings), number="".join(str(r.label) for r in readings),
        )

    def _empty(self, ink: Ink, message: str, timer: Timer) -> Prediction:
        width, height = ink.size
        timer.lap("finish")
        return Prediction(label=None, probabilities=(0.0,) * NUM_CLASSES, box=None,
                          mask=np.zeros((height, width), dtype=bool),
                          digit=np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32),
                          metrics={}, message=message, timings_ms=timer.spent)


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
    folder = Path(weights_dir) if weights_dir else None
    (classifier, _), (unet, _), (detector, detector_card) = (
        load_checkpoint(name, folder, chosen) for name in ("classifier", "unet", "detector"))
    return Predictor(*(serve(model, chosen, threads) for model in (classifier, unet, detector)), device=chosen,
                     not_a_digit_threshold=classifier.config.not_a_digit_threshold,
                     post_processing=PostProcessing(**detector_card.get("post_processing", {})))

"""The predictor: one input through the pipeline and all three models, as one frozen result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.constants import IMAGE_SIZE, NUM_CLASSES
from mnist_demo.data import ink_mask, normalise
from mnist_demo.detection import detect
from mnist_demo.devices import pick_device
from mnist_demo.metrics import dice, iou, paired_box_iou
from mnist_demo.models import Classifier, Detector, UNet
from mnist_demo.preprocessing import ImageSource, Ink, ink_box, to_ink
from mnist_demo.views import DigitView, letterbox, mnist_view, surroundings

# A detection below this score is not reported as a digit.
DETECTION_THRESHOLD = 0.3
# The classifier reads the ink inside the detector's box grown by this fraction each side,
# so a box that clips a stroke still gives the whole digit.
BOX_MARGIN = 0.1

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Prediction:
    """Everything the models say about one input; boxes and masks are in the input's pixels."""

    label: int | None  # the classifier's answer; None when there is no digit
    probabilities: tuple[float, ...]  # 10 classifier probabilities (all 0 when there is no digit)
    box: Box | None  # the detector's box snapped to the ink inside it (x0, y0, x1, y1), x1/y1 exclusive
    mask: np.ndarray  # (H, W) bool, the U-Net's ink mask
    digit: np.ndarray  # (28, 28) float32, what the classifier saw (white on black, 0..1)
    metrics: dict[str, float]  # mask_dice, mask_iou, box_iou against the thresholded ground truth
    detector_box: Box | None = None  # the detector's box as it came out of the network
    detector_label: int | None = None
    detector_score: float = 0.0
    truth_box: Box | None = None  # the thresholded ground truth's box
    message: str | None = None  # said to the user: why there is no answer, or what to keep in mind
    timings_ms: dict[str, float] = field(default_factory=dict)

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
        return ink_mask(torch.from_numpy(ink.values)).numpy()
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
        sides = (x0 > 0 and ink_here[y0:y1, x0].any(), y0 > 0 and ink_here[y0, x0:x1].any(),
                 x1 < width and ink_here[y0:y1, x1 - 1].any(), y1 < height and ink_here[y1 - 1, x0:x1].any())
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


def side_by_side(boxes: torch.Tensor) -> bool:
    """True when no two boxes overlap left to right: separate digits of a number, not parts of one."""
    order = torch.argsort(boxes[:, 0])
    ordered = boxes[order]
    return bool((ordered[1:, 0] >= ordered[:-1, 2]).all())


def _round_box(box: torch.Tensor, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box.tolist()
    return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
            min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


class Predictor:
    """The three models on one device, ready for `predict`."""

    def __init__(self, classifier: Classifier, unet: UNet, detector: Detector, device: torch.device) -> None:
        self.classifier, self.unet, self.detector, self.device = classifier, unet, detector, device

    def _empty(self, ink: Ink, message: str, timer: Timer) -> Prediction:
        width, height = ink.size
        timer.lap("finish")
        return Prediction(label=None, probabilities=(0.0,) * NUM_CLASSES, box=None,
                          mask=np.zeros((height, width), dtype=bool),
                          digit=np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32),
                          metrics={}, message=message, timings_ms=timer.spent)

    @torch.inference_mode()
    def predict(self, image: ImageSource) -> Prediction:
        """Read the digit in `image` (Sketchpad dict, PIL image, numpy array or path).

        >>> predictor = load_predictor(device="cpu")
        >>> predictor.predict("examples/drawn_3.png").label
        3
        """
        timer = Timer()
        ink = to_ink(image)
        width, height = ink.size
        timer.lap("preprocess")
        truth_box = ink_box(ink.values)
        if truth_box is None:
            return self._empty(ink, "No digit found: the picture is blank.", timer)
        region = surroundings(truth_box, width, height)
        canvas, placement = letterbox(ink, region, self.detector.config.canvas_size)
        canvas = normalise(canvas).to(self.device)
        found = detect(self.detector, canvas, score_threshold=DETECTION_THRESHOLD)[0].to("cpu")
        timer.lap("detector")
        if len(found.scores) == 0:
            return self._empty(ink, "No digit found: the ink does not look like a digit.", timer)
        best = int(found.scores.argmax())
        boxes = placement.to_input(found.boxes)
        note = None
        if len(boxes) > 1 and side_by_side(boxes):
            boxes = boxes[best:best + 1]
            note = f"{len(found.scores)} digits found; this version reads the most confident one."
        # Overlapping detections are parts of one digit (a long stroke, a detached bar): read them as one.
        box = _round_box(torch.cat([boxes[:, :2].amin(dim=0), boxes[:, 2:].amax(dim=0)]), width, height)
        grow_x, grow_y = BOX_MARGIN * (box[2] - box[0]), BOX_MARGIN * (box[3] - box[1])
        ink_here = solid_ink(ink)
        region = follow_strokes(ink_here, (box[0] - grow_x, box[1] - grow_y, box[2] + grow_x, box[3] + grow_y))
        view = mnist_view(ink.values, region)
        if view is None:
            return self._empty(ink, "No digit found inside the detected box.", timer)
        shown_box = snap_to_ink(ink_here, region) or box
        timer.lap("crop")
        digit = normalise(torch.from_numpy(view.digit))[None, None].to(self.device)
        probabilities = torch.softmax(self.classifier(digit).float(), dim=1)[0].cpu()
        timer.lap("classifier")
        mask_logits = self.unet(digit).float()[0, 0].cpu()
        timer.lap("unet")
        mask = (view.frame_to_input_map(mask_logits, width, height) > 0).numpy()
        metrics = self._readouts(view, mask_logits, box, truth_box)  # the detector's own box
        timer.lap("readouts")
        label = int(probabilities.argmax())
        return Prediction(
            label=label,
            probabilities=tuple(round(float(p), 6) for p in probabilities),
            box=shown_box, detector_box=box, mask=mask, digit=view.digit, metrics=metrics,
            detector_label=int(found.labels[best]), detector_score=round(float(found.scores[best]), 4),
            truth_box=truth_box, message=note, timings_ms=timer.spent,
        )

    @staticmethod
    def _readouts(view: DigitView, mask_logits: torch.Tensor, box: Box, truth_box: Box) -> dict[str, float]:
        """Dice and IoU of the U-Net mask and IoU of the detector box, against the thresholded input."""
        truth = ink_mask(torch.from_numpy(view.digit))
        predicted = mask_logits > 0
        box_iou = paired_box_iou(torch.tensor([box]).float(), torch.tensor([truth_box]).float())
        return {
            "mask_dice": round(float(dice(predicted, truth)[0]), 4),
            "mask_iou": round(float(iou(predicted, truth)[0]), 4),
            "box_iou": round(float(box_iou[0]), 4),
        }


def load_predictor(weights_dir: str | Path | None = None, device: str = "auto") -> Predictor:
    """Load the classifier, U-Net and detector from `weights_dir` (default: the repo's weights/).

    `device` is "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda" or "mps".

    >>> from mnist_demo import load_predictor
    >>> predictor = load_predictor(device="cpu")
    >>> result = predictor.predict("digit.png")
    >>> result.label, result.box, result.metrics["mask_dice"]
    """
    chosen = pick_device(device)
    models = [load_checkpoint(name, Path(weights_dir) if weights_dir else None, chosen)[0]
              for name in ("classifier", "unet", "detector")]
    return Predictor(*models, device=chosen)

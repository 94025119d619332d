"""Evaluation of the three models on held-out digits; used by training (validation, test report)
and by `python -m mnist_demo evaluate`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from mnist_demo.augment import Canvases, corrupt, render_canvases
from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.constants import DETECTION_THRESHOLD, NOT_A_DIGIT, NUM_CLASSES
from mnist_demo.data import DigitSet, ink_mask, load_digits, normalise, quantise, to_unit_float
from mnist_demo.detection import detect, read_number
from mnist_demo.drawn import TEST_SEED, drawn_set
from mnist_demo.frames import working_copy_of
from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.metrics import Detections, average_precision, dice, iou, paired_box_iou
from mnist_demo.pendigits import read_pendigits
from mnist_demo.pictures import PICTURE_KINDS, enlarged_digits, photographed, picture_set
from mnist_demo.preprocessing import mask_box, to_ink
from mnist_demo.segmentation import THRESHOLD_GAMMA, grid_view, segment, thresholds_on_picture

EVALUATION_SEED = 1234
# The drawn test set: things that are not digits, digits in styles MNIST lacks (drawn.py).
DRAWN_TEST = (2_000, 1_000)


def corrupted_copy(images: torch.Tensor, seed: int = EVALUATION_SEED) -> torch.Tensor:
    """The training corruptions applied to 0..1 images with a fixed seed, quantised to 8 bits."""
    return quantise(corrupt(images, torch.Generator().manual_seed(seed)))


def fixed_canvases(digits: DigitSet, canvas_size: int, digits_per_canvas: list[int] | None = None,
                   seed: int = EVALUATION_SEED) -> Canvases:
    """A reproducible synthetic canvas set built from `digits` (one digit per canvas by default)."""
    counts = digits_per_canvas or [1] * len(digits)
    return render_canvases(to_unit_float(digits.images), digits.labels, counts, canvas_size,
                           torch.Generator().manual_seed(seed))


def on_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, C, H, W) images on `device`, channels-last as the models train: on a CPU, oneDNN's
    convolutions run much faster that way (the detector's test report in 46 s against 72 s, with
    channels-last weights too; see `for_evaluation`)."""
    return images.to(device).contiguous(memory_format=torch.channels_last)


def for_evaluation(model: nn.Module) -> nn.Module:
    """`model` (a loaded checkpoint) with channels-last weights, as training leaves them."""
    return model.to(memory_format=torch.channels_last)


@torch.inference_mode()
def run_in_chunks(model: nn.Module, inputs: torch.Tensor, device: torch.device, chunk: int = 1000) -> torch.Tensor:
    """Model outputs for many inputs, a chunk at a time, back on the CPU."""
    return torch.cat([model(on_device(part, device)).float().cpu() for part in torch.split(inputs, chunk)])


def not_a_digit_probability(logits: torch.Tensor) -> torch.Tensor:
    """(N, 11) classifier logits -> (N,) probability of NOT_A_DIGIT."""
    return torch.softmax(logits.float(), dim=1)[:, NOT_A_DIGIT]


def reading(logits: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """What the app reads from (N, 11) classifier logits: the most likely digit, and whether the
    input is refused as not a digit (its NOT_A_DIGIT probability reaches `threshold`)."""
    return logits[:, :NOT_A_DIGIT].argmax(dim=1), not_a_digit_probability(logits) >= threshold


def evaluate_classifier(model: nn.Module, digits: DigitSet, device: torch.device,
                        with_drawn: bool = True) -> dict[str, Any]:
    """As the app reads them: accuracy (the right digit, not refused), per-class accuracy, the
    confusion matrix over the digits (rows: true digit, columns: predicted), the share of digits
    refused as not a digit, and of the things in `digits` that are not digits, the share refused.
    Unless told not to (as during training's validation), also on a fixed drawn set (drawn.py):
    things that are not digits and digits in styles MNIST lacks."""
    logits = run_in_chunks(model, normalise(to_unit_float(digits.images)), device)
    predicted, refused = reading(logits, model.config.not_a_digit_threshold)
    is_digit = digits.labels != NOT_A_DIGIT
    right = (predicted == digits.labels) & ~refused & is_digit
    labels, shown = digits.labels[is_digit], predicted[is_digit]
    confusion = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long)
    confusion.index_put_((labels, shown), torch.ones_like(shown), accumulate=True)
    per_class = torch.stack([right[digits.labels == digit].float().mean() for digit in range(NUM_CLASSES)])
    scores: dict[str, Any] = {
        "accuracy": int(right.sum()) / int(is_digit.sum()),  # exact: 9960 of 10000 is 0.996
        "false_rejection": float(refused[is_digit].float().mean()),
        "per_class": {str(digit): round(float(value), 4) for digit, value in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
    }
    if not is_digit.all():
        scores["not_a_digit_rejected"] = float(refused[~is_digit].float().mean())
    if with_drawn:
        drawn = evaluate_classifier(model, drawn_set(*DRAWN_TEST, seed=TEST_SEED), device, with_drawn=False)
        scores["drawn"] = {key: drawn[key] for key in ("accuracy", "false_rejection", "not_a_digit_rejected")}
    return scores


# Refused digits of the validation set may be at most this share (the target is 0.3% on every kind).
MAX_FALSE_REJECTION = 0.001
THRESHOLD_CANDIDATES = tuple(round(0.05 * step, 2) for step in range(6, 20))  # 0.3 .. 0.95


def choose_not_a_digit_threshold(model: nn.Module, validation: DigitSet, device: torch.device) -> nn.Module:
    """`model` with its not_a_digit_threshold set to the lowest candidate that refuses at most
    MAX_FALSE_REJECTION of the validation digits (so as many non-digits as possible are refused)."""
    logits = run_in_chunks(model, normalise(to_unit_float(validation.images)), device)
    chance = not_a_digit_probability(logits)[validation.labels != NOT_A_DIGIT]
    chosen = next((threshold for threshold in THRESHOLD_CANDIDATES
                   if int((chance >= threshold).sum()) <= MAX_FALSE_REJECTION * len(chance)), THRESHOLD_CANDIDATES[-1])
    model.config = dataclasses.replace(model.config, not_a_digit_threshold=chosen)
    return model


def otsu_threshold(images: torch.Tensor) -> torch.Tensor:
    """Per-image Otsu threshold of (N, 1, H, W) 0..1 images; the 'plain thresholding' baseline.

    Vectorised here because neither torchvision nor Pillow offers Otsu, and scikit-image is not
    worth a dependency for one baseline.
    """
    levels = torch.round(images.flatten(1) * 255).long()  # (N, P)
    histogram = torch.zeros(len(levels), 256).scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float32))
    probability = histogram / histogram.sum(dim=1, keepdim=True)
    values = torch.arange(256, dtype=torch.float32)
    weight_low = probability.cumsum(1)
    mean_low = (probability * values).cumsum(1)
    mean_all = mean_low[:, -1:]
    between = (mean_all * weight_low - mean_low) ** 2 / (weight_low * (1 - weight_low)).clamp(min=1e-12)
    return between.argmax(dim=1).float().view(-1, 1, 1, 1) / 255  # ink is strictly above this


# The U-Net's test pictures: the first of the digits it is given (2,000 are plenty for a mean
# Dice), enlarged to this side, clean and photographed.
UNET_PICTURES, UNET_PICTURE_SIDE = 2_000, 192


def evaluate_unet(model: nn.Module, digits: DigitSet, device: torch.device) -> dict[str, float]:
    """Dice and IoU at the picture's resolution against the clean ink: on MNIST digits enlarged
    into crisp ink, and on photos of them (with Otsu thresholding of the same photos beside)."""
    generator = torch.Generator().manual_seed(EVALUATION_SEED)
    scores: dict[str, list[torch.Tensor]] = {}
    digits = digits.subset(min(UNET_PICTURES, len(digits)))
    for start in range(0, len(digits), 250):
        clean = quantise(enlarged_digits(to_unit_float(digits.images[start:start + 250]), UNET_PICTURE_SIDE, generator))
        truth = ink_mask(clean)[:, 0]
        photos = photographed(clean, generator)
        read = torch.stack([torch.from_numpy(to_ink(photo).values) for photo in photos])[:, None]
        darkness = 1 - torch.from_numpy(np.stack(photos)).float()[:, None] / 255
        masks = {"": unet_masks(model, clean, device), "_photo": unet_masks(model, read, device),
                 "_photo_otsu": (darkness > otsu_threshold(darkness))[:, 0]}
        for suffix, mask in masks.items():
            scores.setdefault(f"dice{suffix}", []).append(dice(mask, truth))
            scores.setdefault(f"iou{suffix}", []).append(iou(mask, truth))
    return {name: float(torch.cat(values).mean()) for name, values in scores.items()}


def unet_masks(model: nn.Module, values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The U-Net's (B, H, W) bool masks of whole (B, 1, H, W) pictures in 0..1, as `segment` makes them."""
    level = thresholds_on_picture(run_in_chunks(model, grid_view(values), device), *values.shape[-2:])
    return (values.clamp(min=0).pow(THRESHOLD_GAMMA) > level)[:, 0]


# unet_on_input: this many pictures of each kind, drawn from pendigits' held-out pen paths
PICTURES_PER_KIND = 100


@torch.inference_mode()
def evaluate_unet_on_input(model: nn.Module, data_dir: Path) -> dict[str, dict[str, float]]:
    """Per picture kind (drawings on the 800x800 canvas, transparent and light-on-dark PNGs,
    photos): mean Dice and IoU at the input's resolution of the mask the app shows (`segment`)
    against the clean ink; on photos, Otsu's threshold of the grey photo beside it."""
    paths = read_pendigits(data_dir).part(held_out=True)
    serving = model.cpu().eval()
    report = {}
    for kind in PICTURE_KINDS:
        scores: dict[str, list[float]] = {}
        for picture in picture_set(kind, paths, PICTURES_PER_KIND, EVALUATION_SEED):
            truth = torch.from_numpy(picture.clean)
            box = mask_box(ink_mask(picture.ink.values))
            found = np.zeros_like(picture.clean) if box is None else segment(
                serving, picture.ink, working_copy_of(picture.ink, box))
            masks = {"": torch.from_numpy(found)}
            if picture.photo is not None:
                darkness = 1 - torch.tensor(picture.photo, dtype=torch.float32)[None, None] / 255
                masks["_otsu"] = (darkness > otsu_threshold(darkness))[0, 0]
            for suffix, mask in masks.items():
                scores.setdefault(f"dice{suffix}", []).append(float(dice(mask[None], truth[None])))
                scores.setdefault(f"iou{suffix}", []).append(float(iou(mask[None], truth[None])))
        report[kind] = {name: round(float(np.mean(values)), 6) for name, values in scores.items()}
    return report


def run_detector(model: nn.Module, inputs: torch.Tensor, device: torch.device,
                 score_threshold: float = 0.05) -> list[Detections]:
    """Detections on (N, 1, S, S) 0..1 canvases, 500 at a time, back on the CPU."""
    return [found.to("cpu") for chunk in torch.split(normalise(inputs), 500)
            for found in detect(model, on_device(chunk, device), score_threshold=score_threshold)]


def ground_truth(canvases: Canvases) -> list[Detections]:
    return [Detections(boxes, labels, torch.ones(len(labels)))
            for boxes, labels in zip(canvases.boxes, canvases.labels, strict=True)]


def detection_scores(
    model: nn.Module, canvases: Canvases, inputs: torch.Tensor, device: torch.device
) -> dict[str, float]:
    """Class accuracy and IoU of each canvas's best detection against its first digit, and AP."""
    detections = run_detector(model, inputs, device)
    truth = ground_truth(canvases)
    correct, overlaps = [], []
    for found, expected in zip(detections, truth, strict=True):
        if len(found.scores) == 0:
            correct.append(False)
            overlaps.append(0.0)
            continue
        best = int(found.scores.argmax())
        correct.append(bool(found.labels[best] == expected.labels[0]))
        overlaps.append(float(paired_box_iou(found.boxes[best:best + 1], expected.boxes[:1])[0]))
    return {
        "accuracy": sum(correct) / len(correct),
        "mean_iou": sum(overlaps) / len(overlaps),
        "ap50": average_precision(detections, truth, 0.5),
        "ap75": average_precision(detections, truth, 0.75),
    }


# The multi-digit test set: canvases of 1, 2, ... 6 digits in turn, made from the test digits.
MULTIDIGIT_COUNTS = (1, 2, 3, 4, 5, 6)


def digits_read(found: Detections, expected: Detections) -> list[bool]:
    """Per true digit: is there a kept detection on it (IoU >= 0.5, the best-overlapping one)
    with the right label?"""
    if len(found.boxes) == 0:
        return [False] * len(expected.labels)
    overlaps = box_iou(expected.boxes.float(), found.boxes.float())  # (true, found)
    best_overlap, best = overlaps.max(dim=1)
    return ((best_overlap >= 0.5) & (found.labels[best] == expected.labels)).tolist()


def multidigit_scores(found: list[Detections], truth: list[Detections],
                      reported: list[Detections]) -> dict[str, float]:
    """AP over all scored detections; digit and whole-number accuracy over the reported ones."""
    read = [digits_read(kept, expected) for kept, expected in zip(reported, truth, strict=True)]
    return {
        "canvases": len(truth),
        "ap50": average_precision(found, truth, 0.5),
        "ap75": average_precision(found, truth, 0.75),
        "digit_accuracy": sum(map(sum, read)) / sum(map(len, read)),
        "number_accuracy": sum(read_number(kept) == read_number(expected)
                               for kept, expected in zip(reported, truth, strict=True)) / len(truth),
    }


def evaluate_multidigit(model: nn.Module, digits: DigitSet, device: torch.device,
                        report_threshold: float) -> dict[str, Any]:
    """Reading whole numbers on a fixed set of 1- to 6-digit canvases, overall and per digit count.

    `report_threshold` is the score from which the app reports a detection as a digit."""
    cycles = len(digits) // sum(MULTIDIGIT_COUNTS)
    counts = list(MULTIDIGIT_COUNTS) * cycles
    canvases = fixed_canvases(digits.subset(sum(counts)), model.config.canvas_size, counts)
    found = run_detector(model, canvases.images, device)
    truth = ground_truth(canvases)
    reported = [Detections(f.boxes[keep], f.labels[keep], f.scores[keep])
                for f in found for keep in [f.scores >= report_threshold]]
    result: dict[str, Any] = multidigit_scores(found, truth, reported)
    for count in MULTIDIGIT_COUNTS:
        chosen = [index for index, n in enumerate(counts) if n == count]
        pick = [[items[i] for i in chosen] for items in (found, truth, reported)]
        result[f"{count}_digits"] = multidigit_scores(*pick)
    return result


def evaluate_detector(model: nn.Module, digits: DigitSet, device: torch.device,
                      with_corrupted: bool = True) -> dict[str, Any]:
    """Scores on one-digit synthetic canvases from `digits`, clean and (unless told not to, as
    during training's validation) with the corruptions, and on multi-digit canvases."""
    canvases = fixed_canvases(digits, model.config.canvas_size)
    clean = detection_scores(model, canvases, canvases.images, device)
    if not with_corrupted:
        return clean
    damaged = detection_scores(model, canvases, corrupted_copy(canvases.images), device)
    return {**clean, **{f"{key}_corrupted": value for key, value in damaged.items()},
            "multidigit": evaluate_multidigit(model, digits, device, DETECTION_THRESHOLD)}


# numbers: canvases of 1 to 6 test digits written in a row (augment.RowLayout: close to touching,
# as people write numbers), NUMBERS_PER_LENGTH of each length, read by the app's own predictor
NUMBERS_PER_LENGTH, NUMBER_CANVAS = 100, 384


def evaluate_numbers(predictor: Predictor, digits: DigitSet) -> dict[str, float]:
    """The share of whole numbers the app reads exactly (`Predictor.predict`, the code behind the
    page), overall and per length."""
    counts = list(MULTIDIGIT_COUNTS) * NUMBERS_PER_LENGTH
    used = digits.subset(sum(counts))
    canvases = render_canvases(to_unit_float(used.images), used.labels, counts, NUMBER_CANVAS,
                               torch.Generator().manual_seed(EVALUATION_SEED), row_fraction=1.0)
    right = []
    for image, boxes, labels in zip(canvases.images, canvases.boxes, canvases.labels, strict=True):
        truth = "".join(str(label) for label in labels[boxes[:, 0].argsort()].tolist())
        right.append(predictor.predict(image[0].numpy()).number == truth)
    report = {"numbers": len(right), "number_accuracy": sum(right) / len(right)}
    for length in MULTIDIGIT_COUNTS:
        chosen = [read for read, count in zip(right, counts, strict=True) if count == length]
        report[f"{length}_digits"] = sum(chosen) / len(chosen)
    return report


EVALUATORS: dict[str, Callable[[nn.Module, DigitSet, torch.device], dict[str, Any]]] = {
    "classifier": evaluate_classifier,
    "unet": evaluate_unet,
    "detector": evaluate_detector,
}


def evaluate_weights(weights_dir: Path | None, data_dir: Path, device: torch.device) -> dict[str, dict[str, Any]]:
    """The test-set report of every committed model (what `python -m mnist_demo evaluate` prints)."""
    models = {name: for_evaluation(load_checkpoint(name, weights_dir, device)[0]) for name in EVALUATORS}
    test = load_digits(data_dir, train=False)
    report = {name: evaluator(models[name], test, device) for name, evaluator in EVALUATORS.items()}
    report["multidigit"] = report["detector"].pop("multidigit")
    report["unet_on_input"] = evaluate_unet_on_input(models["unet"], data_dir)
    report["numbers"] = evaluate_numbers(load_predictor(weights_dir, device=device.type), test)
    return report

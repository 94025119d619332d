"""Dice, IoU, box IoU and detection AP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_area, box_iou


def _flat(masks: torch.Tensor) -> torch.Tensor:
    return masks.reshape(masks.shape[0], -1).bool() if masks.dim() > 2 else masks.reshape(1, -1).bool()


def dice(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice of bool masks (N, H, W) or one (H, W); two empty masks agree perfectly (1.0)."""
    p, t = _flat(predicted), _flat(target)
    overlap = (p & t).sum(dim=1).float()
    total = (p.sum(dim=1) + t.sum(dim=1)).float()
    return torch.where(total > 0, 2 * overlap / total.clamp(min=1), torch.ones_like(total))


def iou(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image intersection over union of bool masks; two empty masks agree perfectly (1.0)."""
    p, t = _flat(predicted), _flat(target)
    overlap = (p & t).sum(dim=1).float()
    union = (p | t).sum(dim=1).float()
    return torch.where(union > 0, overlap / union.clamp(min=1), torch.ones_like(union))


def dice_and_iou(predicted: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of one bool mask against another, in numpy (the predictor's pictures: numpy
    counts a picture's pixels several times faster than torch on one thread); two empty masks
    agree perfectly (1.0, 1.0)."""
    overlap = int(np.count_nonzero(predicted & target))
    total = int(np.count_nonzero(predicted)) + int(np.count_nonzero(target))
    if total == 0:
        return 1.0, 1.0
    return 2 * overlap / total, overlap / (total - overlap)


def paired_box_iou(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of each predicted box (N, 4) with its own target box (N, 4)."""
    if len(predicted) == 0:
        return torch.zeros(0)
    return box_iou(predicted.float(), target.float()).diagonal()


def share_inside(boxes: torch.Tensor, containers: torch.Tensor) -> torch.Tensor:
    """(K, M): how much of each of the (K, 4) boxes' area lies inside each of the (M, 4)
    containers. Written here: torchvision's box ops give IoU, which does not tell a part lying
    inside a larger box from two boxes half overlapping."""
    corner = torch.maximum(boxes[:, None, :2], containers[None, :, :2])
    far = torch.minimum(boxes[:, None, 2:], containers[None, :, 2:])
    overlap = (far - corner).clamp(min=0).prod(dim=2)
    return overlap / box_area(boxes)[:, None].clamp(min=1e-6)


@dataclass(frozen=True)
class Detections:
    """One image's detections or ground truth; scores are 1 for ground truth."""

    boxes: torch.Tensor  # (K, 4) x0, y0, x1, y1
    labels: torch.Tensor  # (K,)
    scores: torch.Tensor  # (K,)

    def to(self, device: str | torch.device) -> Detections:
        return Detections(self.boxes.to(device), self.labels.to(device), self.scores.to(device))


def _match(predicted: Detections, truth: Detections, iou_threshold: float) -> list[tuple[int, float, bool]]:
    """Greedy matching in one image, best score first: (class, score, true positive?) per detection."""
    labels, true_labels = predicted.labels.tolist(), truth.labels.tolist()
    if not labels:
        return []
    overlaps = box_iou(predicted.boxes.float(), truth.boxes.float()).tolist() if true_labels else None
    scores = predicted.scores.tolist()
    taken = [False] * len(true_labels)
    matched = []
    for index in sorted(range(len(labels)), key=lambda i: -scores[i]):
        best, best_overlap = None, iou_threshold
        for candidate, true_label in enumerate(true_labels):
            overlap = overlaps[index][candidate]
            if true_label == labels[index] and not taken[candidate] and overlap >= best_overlap:
                best, best_overlap = candidate, overlap
        if best is not None:
            taken[best] = True
        matched.append((labels[index], scores[index], best is not None))
    return matched


def average_precision(
    predictions: list[Detections], ground_truth: list[Detections], iou_threshold: float, num_classes: int = 10
) -> float:
    """Mean over classes of COCO-style AP (101-point interpolation) at one IoU threshold.

    Written here rather than taken from torchmetrics, whose mAP needs pycocotools or
    faster-coco-eval: this is the same greedy matching in a few lines with no extra dependency.
    """
    scored: dict[int, list[tuple[float, bool]]] = {cls: [] for cls in range(num_classes)}
    positives = dict.fromkeys(range(num_classes), 0)
    for predicted, truth in zip(predictions, ground_truth, strict=True):
        for label in truth.labels.tolist():
            positives[label] += 1
        for label, score, hit in _match(predicted, truth, iou_threshold):
            scored[label].append((score, hit))
    per_class = []
    for cls in range(num_classes):
        if positives[cls] == 0:
            continue
        ranked = sorted(scored[cls], key=lambda item: -item[0])
        hits = torch.tensor([hit for _, hit in ranked], dtype=torch.float32)
        true_positives = torch.cumsum(hits, 0)
        precision = true_positives / torch.arange(1, len(hits) + 1)
        recall = true_positives / positives[cls]
        # precision envelope: the best precision at this recall or any higher one
        envelope = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
        # first rank reaching each recall level; a level never reached scores precision 0
        reached = torch.searchsorted(recall, torch.linspace(0, 1, 101), side="left")
        per_class.append(float(torch.cat([envelope, torch.zeros(1)])[reached].mean()))
    return sum(per_class) / len(per_class) if per_class else 0.0

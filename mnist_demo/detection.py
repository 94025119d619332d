"""CenterNet-style training targets, loss and decoding for the detector.

Written here rather than taken from a library: torchvision ships anchor-based detectors
(Faster R-CNN, RetinaNet, FCOS) far larger than a 96x96 digit canvas needs, and no CenterNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torchvision.ops import generalized_box_iou_loss, nms

from mnist_demo.metrics import Detections, share_inside
from mnist_demo.models import Detector, DetectorOutput, digit_frames


@dataclass(frozen=True)
class DetectorTargets:
    heatmap: torch.Tensor  # (B, 1, rows, columns) Gaussian bumps, exactly 1 at each digit's centre cell
    centre_index: torch.Tensor  # (O, 3) batch, row, column of each digit's centre cell
    boxes: torch.Tensor  # (O, 4) true boxes in canvas pixels
    labels: torch.Tensor  # (O,)
    proposals: list[torch.Tensor]  # per canvas (k, 4): the true boxes jittered, for the RoI classifier


def jitter_boxes(boxes: torch.Tensor, generator: torch.Generator, amount: float = 0.15) -> torch.Tensor:
    """Move and resize boxes by up to `amount` of their size, as the first stage's boxes will be off."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + (torch.rand(boxes.shape, generator=generator) * 2 - 1) * amount * size


def make_targets(boxes: list[torch.Tensor], labels: list[torch.Tensor], grid: tuple[int, int], stride: int,
                 generator: torch.Generator) -> DetectorTargets:
    """Per-canvas boxes in canvas pixels -> dense heatmap on the (rows, columns) `grid`, the centre
    cell of every digit and the jittered boxes the second stage learns to classify."""
    all_boxes = torch.cat(boxes).float()
    owner = torch.cat([torch.full((len(b),), index) for index, b in enumerate(boxes)])
    centre = (all_boxes[:, :2] + all_boxes[:, 2:]) / 2 / stride  # (O, 2) x, y in grid units
    rows, columns = grid
    cell = torch.minimum(centre.floor().clamp(min=0), torch.tensor([columns - 1, rows - 1]))
    size = (all_boxes[:, 2:] - all_boxes[:, :2]) / stride
    sigma = (size / 6).clamp(min=0.5)  # (O, 2): a bump as wide as a third of the box
    xs, ys = torch.arange(columns, dtype=torch.float32), torch.arange(rows, dtype=torch.float32)
    bump_x = torch.exp(-((xs[None, :] - cell[:, :1]) ** 2) / (2 * sigma[:, :1] ** 2))  # (O, columns)
    bump_y = torch.exp(-((ys[None, :] - cell[:, 1:]) ** 2) / (2 * sigma[:, 1:] ** 2))  # (O, rows)
    bumps = bump_y[:, :, None] * bump_x[:, None, :]  # (O, rows, columns)
    heatmap = torch.zeros(len(boxes), rows, columns)
    heatmap.scatter_reduce_(0, owner.view(-1, 1, 1).expand_as(bumps), bumps, "amax")
    centre_index = torch.stack([owner, cell[:, 1].long(), cell[:, 0].long()], dim=1)
    proposals = list(torch.split(jitter_boxes(all_boxes, generator), [len(b) for b in boxes]))
    return DetectorTargets(heatmap.unsqueeze(1), centre_index, all_boxes, torch.cat(labels), proposals)


def boxes_at(output: DetectorOutput, index: torch.Tensor, stride: int) -> torch.Tensor:
    """Decode the boxes predicted at (O, 3) batch/row/column cells, in canvas pixels."""
    b, row, column = index.unbind(1)
    offset = output.centre_offset[b, :, row, column].float()  # (O, 2)
    size = output.box_size[b, :, row, column].float()  # (O, 2)
    centre = torch.stack([column, row], dim=1).float() + offset
    return torch.cat([centre - size / 2, centre + size / 2], dim=1) * stride


def detector_loss(model: Detector, canvases: torch.Tensor, targets: DetectorTargets) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the heatmap, L1 + GIoU for the box decoded at
    each centre cell, and cross-entropy for the class the second stage reads in each box."""
    stride = model.config.stride
    output = model(canvases)
    probability = torch.sigmoid(output.centre_logits.float()).clamp(1e-4, 1 - 1e-4)
    peak = targets.heatmap == 1
    positive = -((1 - probability) ** 2) * torch.log(probability)
    negative = -((1 - targets.heatmap) ** 4) * probability**2 * torch.log(1 - probability)
    count = max(int(peak.sum()), 1)
    focal = torch.where(peak, positive, negative).sum() / count
    predicted = boxes_at(output, targets.centre_index, stride)
    box_l1 = F.l1_loss(predicted, targets.boxes) / stride
    giou = generalized_box_iou_loss(predicted, targets.boxes, reduction="mean")
    class_logits, refined = model.read_boxes(canvases, targets.proposals)
    class_loss = F.cross_entropy(class_logits.float(), targets.labels)
    refined_giou = generalized_box_iou_loss(refined, targets.boxes, reduction="mean")
    # L1 in units of the frame's side: GIoU's pull fades as boxes get close, this one does not
    frames = digit_frames(torch.cat(targets.proposals))
    side = frames[:, 2:3] - frames[:, :1]
    refined_l1 = ((refined - targets.boxes).abs() / side.clamp(min=1)).sum(dim=1).mean()
    return focal + box_l1 + 2 * giou + class_loss + 2 * refined_giou + 4 * refined_l1


def decode(output: DetectorOutput, stride: int, score_threshold: float, max_digits: int) -> list[Detections]:
    """Heatmap peaks (3x3 max-pool as non-maximum suppression) -> per-canvas boxes and scores
    (labels left at -1 for the second stage)."""
    heat = torch.sigmoid(output.centre_logits.float())  # (B, 1, G, G)
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    batch, _, rows, columns = heat.shape  # canvases may be wider than high
    scores, flat = peaks.view(batch, -1).topk(min(max_digits, rows * columns), dim=1)
    results = []
    for index in range(batch):
        keep = scores[index] >= score_threshold
        cells = flat[index][keep]
        cell_index = torch.stack([torch.full_like(cells, index), cells // columns, cells % columns], dim=1)
        boxes = boxes_at(output, cell_index, stride)
        results.append(Detections(boxes=boxes, labels=torch.full_like(cells, -1), scores=scores[index][keep]))
    return results


# Digits on a canvas do not overlap: two refined boxes this alike are one digit proposed twice
# (two heatmap peaks on one long stroke), and the less confident one goes.
DUPLICATE_IOU = 0.5
# A proposal lying this much inside a more confident one is a part of that digit (a loop, a
# stroke) proposed on its own: the predictor would read it as part of that digit anyway.
NESTED_SHARE = 0.9


def not_duplicated(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Indices of `boxes` by decreasing score, each box alike (IoU >= DUPLICATE_IOU) to a more
    confident one left out: class-agnostic NMS (one box, the usual drawing of one digit, needs none)."""
    return nms(boxes, scores, DUPLICATE_IOU) if len(boxes) > 1 else torch.arange(len(boxes))


def not_nested(boxes: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Of the boxes at `order` (most confident first), those not lying NESTED_SHARE or more inside
    an earlier one that is kept."""
    if len(order) <= 1:
        return order
    inside = share_inside(boxes, boxes).tolist()
    kept: list[int] = []
    for index in order.tolist():
        if not any(inside[index][earlier] >= NESTED_SHARE for earlier in kept):
            kept.append(index)
    return torch.tensor(kept, dtype=torch.long)


@torch.inference_mode()
def detect(model: Detector, canvases: torch.Tensor, score_threshold: float = 0.3,
           max_digits: int = 12, prune_proposals: bool = False) -> list[Detections]:
    """Both stages on (B, 1, S, W) normalised canvases: boxes, labels and scores per canvas,
    most confident first, duplicates removed (class-agnostic non-maximum suppression).

    A detection's score is its heatmap peak times the class probability. Both stages run in full
    precision: bfloat16 kernels differ between CPUs (AVX-512 against AVX2), and the evaluation's
    figures must come out the same on every one. `prune_proposals` drops
    duplicate proposals, and proposals nested in a more confident one, before the second stage
    reads them (the app's fast path: one digit often has 3-4 heatmap peaks, each a full
    classifier pass); evaluation keeps them all.
    """
    output = model(canvases)
    proposals = decode(output, model.config.stride, score_threshold, max_digits)
    if prune_proposals:
        proposals = [Detections(p.boxes[keep], p.labels[keep], p.scores[keep])
                     for p in proposals for keep in [not_nested(p.boxes, not_duplicated(p.boxes, p.scores))]]
    if not any(len(p.boxes) for p in proposals):
        return proposals
    class_logits, refined = model.read_boxes(canvases, [p.boxes for p in proposals])
    best, labels = torch.softmax(class_logits.float(), dim=1).max(dim=1)
    results, start = [], 0
    for proposal in proposals:
        end = start + len(proposal.boxes)
        boxes, scores = refined[start:end], proposal.scores * best[start:end]
        keep = not_duplicated(boxes, scores)
        results.append(Detections(boxes=boxes[keep], labels=labels[start:end][keep], scores=scores[keep]))
        start = end
    return results


def left_to_right(detections: Detections) -> Detections:
    """The detections ordered by the centre of their boxes, left to right: how a number is read."""
    order = torch.argsort(detections.boxes[:, 0] + detections.boxes[:, 2], stable=True)
    return Detections(detections.boxes[order], detections.labels[order], detections.scores[order])


def read_number(detections: Detections) -> str:
    """The digits' labels read left to right, as a string ("427"); empty when there are none."""
    return "".join(str(label) for label in left_to_right(detections).labels.tolist())

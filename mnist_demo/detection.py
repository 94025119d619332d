"""CenterNet-style training targets, loss and decoding for the detector.

Written here rather than taken from a library: torchvision ships anchor-based detectors
(Faster R-CNN, RetinaNet, FCOS) far larger than a 96x96 digit canvas needs, and no CenterNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torchvision.ops import box_iou, generalized_box_iou_loss, nms

from mnist_demo.constants import NOT_A_DIGIT, NUM_CLASSES
from mnist_demo.metrics import Detections, share_inside
from mnist_demo.models import Detector, DetectorOutput, digit_frames


@dataclass(frozen=True)
class DetectorTargets:
    heatmap: torch.Tensor  # (B, 1, rows, columns) Gaussian bumps, exactly 1 at each digit's centre cell
    centre_index: torch.Tensor  # (O, 3) batch, row, column of each digit's centre cell
    boxes: torch.Tensor  # (O, 4) true boxes in canvas pixels
    labels: torch.Tensor  # (O,)
    proposals: list[torch.Tensor]  # per canvas (k, 4): the true boxes jittered, for the RoI classifier
    # per canvas (m, 4): boxes that miss every digit, which the RoI classifier learns to call NOT_A_DIGIT
    misses: list[torch.Tensor]


def jitter_boxes(boxes: torch.Tensor, generator: torch.Generator, amount: float = 0.15) -> torch.Tensor:
    """Move and resize boxes by up to `amount` of their size, as the first stage's boxes will be off."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + (torch.rand(boxes.shape, generator=generator) * 2 - 1) * amount * size


# The second stage learns to refuse a proposal that misses every digit (as NOT_A_DIGIT): on
# pen-drawn digits the first stage proposes a wide digit again further right (a 2 read "22"), an
# 8's loops as two 0s, a 7's stem as a 1. This share of the canvases gets one such box, made
# from one of its digits' boxes (`missing_box`).
MISS_SHARE = 0.5
# A made box is a miss only when it overlaps every digit's box by less than this IoU, and holds
# less than `MISS_MOST_INSIDE` of any digit's box: a box around a whole 1 is not a miss however
# far it reaches past it.
MISS_IOU = 0.4
MISS_MOST_INSIDE = 0.6
# Only digits at least this wide (for their height) give parts of themselves as misses: a 1's
# upper half, framed as a digit, still shows most of the 1.
MISS_PART_ASPECT = 0.5


def missing_box(boxes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(0 or 1, 4): on MISS_SHARE of the canvases, a box made from one of the (K, 4) digit
    `boxes` as the first stage misses digits: moved sideways by a third to two thirds of its
    size, its top or bottom part, or a narrow upright strip of it; none where it would not miss
    every digit (MISS_IOU, MISS_MOST_INSIDE)."""
    draws = torch.rand(5, generator=generator).tolist()  # drawn for every canvas: the stream stays in step
    chosen = int(torch.randint(max(len(boxes), 1), (1,), generator=generator))
    if len(boxes) == 0 or draws[0] >= MISS_SHARE:
        return boxes.new_zeros(0, 4)
    x0, y0, x1, y1 = boxes[chosen].tolist()
    width, height = x1 - x0, y1 - y0
    kind = int(draws[1] * 3) if width >= MISS_PART_ASPECT * height else 0
    if kind == 0:  # the digit proposed again beside itself
        shift = (1 / 3 + draws[2] / 3) * max(width, MISS_PART_ASPECT * height) * (1 if draws[3] < 0.5 else -1)
        scale = 0.7 + 0.4 * draws[4]
        cx, cy = (x0 + x1) / 2 + shift, (y0 + y1) / 2
        box = [cx - scale * width / 2, cy - scale * height / 2, cx + scale * width / 2, cy + scale * height / 2]
    elif kind == 1:  # a loop or a bar: the top or the bottom of the digit
        part = (0.35 + 0.2 * draws[2]) * height
        box = [x0, y0, x1, y0 + part] if draws[3] < 0.5 else [x0, y1 - part, x1, y1]
    else:  # a stem
        strip = (0.15 + 0.2 * draws[2]) * width
        left = x0 + draws[3] * (width - strip)
        box = [left, y0, left + strip, y1]
    made = torch.tensor([box], dtype=boxes.dtype)
    if box_iou(made, boxes).max() >= MISS_IOU or share_inside(boxes, made).max() >= MISS_MOST_INSIDE:
        return boxes.new_zeros(0, 4)
    return made


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
    misses = [missing_box(canvas_boxes.float(), generator) for canvas_boxes in boxes]
    return DetectorTargets(heatmap.unsqueeze(1), centre_index, all_boxes, torch.cat(labels), proposals, misses)


def boxes_at(output: DetectorOutput, index: torch.Tensor, stride: int) -> torch.Tensor:
    """Decode the boxes predicted at (O, 3) batch/row/column cells, in canvas pixels."""
    b, row, column = index.unbind(1)
    offset = output.centre_offset[b, :, row, column].float()  # (O, 2)
    size = output.box_size[b, :, row, column].float()  # (O, 2)
    centre = torch.stack([column, row], dim=1).float() + offset
    return torch.cat([centre - size / 2, centre + size / 2], dim=1) * stride


def detector_loss(model: Detector, canvases: torch.Tensor, targets: DetectorTargets) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the heatmap, L1 + GIoU for the box decoded at
    each centre cell, and cross-entropy for the class the second stage reads in each box (the
    digit's, or NOT_A_DIGIT for the boxes that miss every digit), refined boxes for the digits'."""
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
    pairs = list(zip(targets.proposals, targets.misses, strict=True))
    class_logits, refined = model.read_boxes(canvases, [torch.cat([digits, misses]) for digits, misses in pairs])
    is_digit = torch.cat([torch.arange(len(digits) + len(misses)) < len(digits) for digits, misses in pairs])
    is_digit = is_digit.to(class_logits.device)
    classes = torch.full((len(is_digit),), NOT_A_DIGIT, dtype=targets.labels.dtype, device=class_logits.device)
    classes[is_digit] = targets.labels
    class_loss = F.cross_entropy(class_logits.float(), classes)
    refined = refined[is_digit]
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
# A proposal the second stage reads as NOT_A_DIGIT with this probability misses every digit and
# goes (detectors trained before it had no such class); a digit's score is its heatmap peak times
# its class's probability among the digits.
MISSES_EVERY_DIGIT = 0.5


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
    chances = torch.softmax(class_logits.float(), dim=1)
    digits = chances[:, :NUM_CLASSES]
    best, labels = (digits / digits.sum(dim=1, keepdim=True)).max(dim=1)
    missed = chances[:, NUM_CLASSES:].sum(dim=1) >= MISSES_EVERY_DIGIT  # none where the stage reads digits only
    results, start = [], 0
    for proposal in proposals:
        end = start + len(proposal.boxes)
        read = torch.arange(start, end)[~missed[start:end]]
        boxes, scores = refined[read], proposal.scores[read - start] * best[read]
        keep = not_duplicated(boxes, scores)
        results.append(Detections(boxes=boxes[keep], labels=labels[read][keep], scores=scores[keep]))
        start = end
    return results


def left_to_right(detections: Detections) -> Detections:
    """The detections ordered by the centre of their boxes, left to right: how a number is read."""
    order = torch.argsort(detections.boxes[:, 0] + detections.boxes[:, 2], stable=True)
    return Detections(detections.boxes[order], detections.labels[order], detections.scores[order])


def read_number(detections: Detections) -> str:
    """The digits' labels read left to right, as a string ("427"); empty when there are none."""
    return "".join(str(label) for label in left_to_right(detections).labels.tolist())

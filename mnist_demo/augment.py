"""Per-batch augmentation on in-memory tensors: geometry, stroke width, photo-like corruptions,
and synthetic canvases for the detector.

Everything works on whole batches with `affine_grid`/`grid_sample` and convolutions, because
per-sample PIL transforms through a DataLoader are several times slower on a 2-core CPU.
All randomness comes from the `torch.Generator` passed in, so runs are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mnist_demo.constants import IMAGE_SIZE
from mnist_demo.data import ink_boxes, ink_mask, quantise
from mnist_demo.frames import INK_SURROUNDINGS
from mnist_demo.views import letterbox_width


def uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    max_rotation: float = 15.0,
    scale: tuple[float, float] = (0.85, 1.15),
    max_shear: float = 0.25,
    max_shift: float = 0.1,
) -> torch.Tensor:
    """Rotate (degrees), scale, shear (slant) and shift (fraction of the side) each image of (B, 1, H, W)."""
    count = images.shape[0]
    angle = torch.deg2rad(uniform(count, -max_rotation, max_rotation, generator))
    zoom = uniform(count, *scale, generator)
    shear = uniform(count, -max_shear, max_shear, generator)
    shift = uniform(2 * count, -max_shift, max_shift, generator).view(count, 2) * 2  # normalised units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output coordinates to input ones, so this is the inverse transform.
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_stroke_width(images: torch.Tensor, generator: torch.Generator, strength: float = 0.8) -> torch.Tensor:
    """Make strokes thicker (grey dilation) or thinner (grey erosion) by a random amount per image."""
    count = images.shape[0]
    thicker = F.max_pool2d(images, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-images, 3, stride=1, padding=1)
    amount = uniform(count, -strength, strength, generator).view(count, 1, 1, 1)
    # Erosion wipes out thin MNIST strokes, so thinning goes at most half-way.
    return torch.where(amount > 0, images + amount * (thicker - images), images - 0.5 * amount * (thinner - images))


def gaussian_kernels(sigmas: torch.Tensor, size: int = 5) -> torch.Tensor:
    """(B,) standard deviations -> (B, 1, size, size) normalised Gaussian kernels."""
    offsets = torch.arange(size, dtype=torch.float32) - size // 2
    one_d = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigmas.view(-1, 1) ** 2))
    one_d = one_d / one_d.sum(dim=1, keepdim=True)
    return (one_d[:, :, None] * one_d[:, None, :]).unsqueeze(1)


@dataclass(frozen=True)
class CorruptionStrength:
    """Ranges of the photo-like corruptions; the U-Net and the detector train with these."""

    clean_fraction: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 1.2)
    ink_level: tuple[float, float] = (0.35, 1.0)
    background_level: tuple[float, float] = (0.0, 0.35)
    lighting_gradient: float = 0.6  # change in paper brightness from one side to the other
    noise_sigma: tuple[float, float] = (0.0, 0.08)
    speck_rate: tuple[float, float] = (0.0, 0.02)


def corrupt(images: torch.Tensor, generator: torch.Generator,
            strength: CorruptionStrength = CorruptionStrength()) -> torch.Tensor:
    """Photo-like damage to white-on-black images in 0..1: blur, low contrast, brightness,
    uneven lighting, sensor noise and stray specks. A fraction stays clean."""
    count, _, height, width = images.shape
    s = strength
    # Per-image blur as one grouped convolution (torchvision's gaussian_blur takes one sigma per call).
    kernels = gaussian_kernels(uniform(count, *s.blur_sigma, generator))
    blurred = F.conv2d(images.view(1, count, height, width), kernels, padding=2, groups=count).view_as(images)
    ink = uniform(count, *s.ink_level, generator).view(count, 1, 1, 1)
    background = uniform(count, *s.background_level, generator).view(count, 1, 1, 1)
    direction = uniform(count, 0, 2 * math.pi, generator)
    gradient = uniform(count, 0, s.lighting_gradient, generator)
    ys = torch.linspace(-0.5, 0.5, height).view(1, height, 1)
    xs = torch.linspace(-0.5, 0.5, width).view(1, 1, width)
    # in place where a whole-batch temporary would be made: the same numbers, fewer allocations
    # (the detector's batches of wide canvases)
    lighting = (torch.cos(direction).view(-1, 1, 1) * xs + torch.sin(direction).view(-1, 1, 1) * ys)
    lighting = lighting.mul_(gradient.view(-1, 1, 1)).unsqueeze(1)  # (B, 1, H, W)
    noise_sigma = uniform(count, *s.noise_sigma, generator).view(count, 1, 1, 1)
    noise = torch.randn(images.shape, generator=generator).mul_(noise_sigma)
    speck_rate = uniform(count, *s.speck_rate, generator).view(count, 1, 1, 1)
    specks = (torch.rand(images.shape, generator=generator) < speck_rate).float()
    specks = specks.mul_(uniform(count, 0.3, 1.0, generator).view(count, 1, 1, 1))
    damaged = (background + lighting).add_(blurred.mul_(ink)).add_(noise)
    damaged = torch.maximum(damaged, specks).clamp_(0.0, 1.0)
    keep_clean = (torch.rand(count, generator=generator) < s.clean_fraction).view(count, 1, 1, 1)
    return torch.where(keep_clean, images, damaged)


def scale_shift_grid(theta: torch.Tensor, size: list[int]) -> torch.Tensor:
    """`F.affine_grid(theta, size, align_corners=False)` for (N, 2, 3) thetas that only scale and
    shift: x depends on the column only and y on the row, so one row and one column of the grid
    are made by affine_grid itself and broadcast (the same numbers, bit for bit, without a
    matrix product for every pixel of every layer of a batch of wide canvases)."""
    count, _, height, width = size
    xs = F.affine_grid(theta, [count, 1, 1, width], align_corners=False)[..., 0]  # (N, 1, W)
    ys = F.affine_grid(theta, [count, 1, height, 1], align_corners=False)[..., 1]  # (N, H, 1)
    return torch.stack(torch.broadcast_tensors(xs, ys), dim=-1)  # (N, H, W, 2)


@dataclass(frozen=True)
class Canvases:
    """Synthetic detector inputs: digits pasted on black canvases, with their true boxes."""

    images: torch.Tensor  # (B, 1, S, S) float 0..1, clean
    boxes: list[torch.Tensor]  # per canvas (K, 4) x0, y0, x1, y1 in canvas pixels, x1/y1 exclusive
    labels: list[torch.Tensor]  # per canvas (K,)
    masks: torch.Tensor  # (B, S, S) bool ink mask of all digits


def _place_without_overlap(
    sizes: torch.Tensor, canvas: tuple[int, int], generator: torch.Generator, attempts: int = 50
) -> torch.Tensor | None:
    """Top-left corners for boxes of (K, 2) sizes with no two boxes overlapping on a (height,
    width) canvas, or None."""
    corners = torch.zeros_like(sizes)
    for index, (w, h) in enumerate(sizes.tolist()):
        for _ in range(attempts):
            x = torch.rand(1, generator=generator).item() * (canvas[1] - w)
            y = torch.rand(1, generator=generator).item() * (canvas[0] - h)
            # a one-pixel gap on top of the resampling margin the caller adds to each size
            if all(
                x + w + 1 <= cx or cx + cw + 1 <= x or y + h + 1 <= cy or cy + ch + 1 <= y
                for (cx, cy), (cw, ch) in zip(corners[:index].tolist(), sizes[:index].tolist(), strict=True)
            ):
                corners[index] = torch.tensor([x, y])
                break
        else:
            return None
    return corners


@dataclass(frozen=True)
class RowLayout:
    """Digits written in a row as people write numbers: close, touching or slightly overlapping,
    of somewhat different heights, on a slanted line."""

    gap: tuple[float, float] = (-0.12, 0.3)  # between neighbours' ink boxes, in digit heights
    height_spread: float = 0.15  # each digit's height within this share of the row's
    max_slant: float = 0.15  # the line's rise per unit of width
    baseline_jitter: float = 0.06  # each digit off the line by up to this share of its height
    # None: the row is written at a random size that fits the canvas (digit heights up to 0.6 of
    # its height). A range: the row is framed as the app frames a number's ink (`app_framing`),
    # then shrunk by a random factor in this range.
    framed_as_app: tuple[float, float] | None = None


def app_framing(span: tuple[float, float], canvas: tuple[int, int]) -> float:
    """The zoom at which the app shows ink spanning `span` (width, height) on the detector's canvas:
    its surroundings (frames.INK_SURROUNDINGS) letterboxed `canvas[0]` high and as wide as
    views.letterbox makes it (at most `canvas[1]`). Written as arithmetic on the span because the
    training rows are placed before they are drawn."""
    pad = 2 * INK_SURROUNDINGS * max(span)
    width, height = span[0] + pad, span[1] + pad
    return min(canvas[0] / height, min(letterbox_width(width, height, canvas[0]), canvas[1]) / width)


def _place_in_row(sides: torch.Tensor, canvas: tuple[int, int], generator: torch.Generator, row: RowLayout,
                  longest: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zoom and top-left corners for digits of (K, 2) ink `sides` written left to right in a row
    that fits the (height, width) canvas (digit heights up to `longest` of its height, unless the
    row is framed as the app frames it)."""
    count = len(sides)
    canvas_height, canvas_width = canvas
    heights = uniform(1, *longest, generator) * canvas_height * uniform(count, 1 - row.height_spread,
                                                                        1 + row.height_spread, generator)
    gaps = uniform(count, *row.gap, generator) * heights
    gaps[0] = 0
    slant = uniform(1, -row.max_slant, row.max_slant, generator)

    def layout() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float, float]:
        zoom = heights / sides[:, 1]
        widths, tall = sides[:, 0] * zoom, sides[:, 1] * zoom
        lefts = torch.cumsum(gaps + torch.cat([torch.zeros(1), widths[:-1]]), dim=0)
        lefts = lefts - lefts.min()
        tops = lefts * slant + uniform(count, -1, 1, generator) * row.baseline_jitter * tall - tall
        return zoom, lefts, tops, widths, float((lefts + widths).max()), float((tops + tall).max() - tops.min())

    zoom, lefts, tops, widths, span_x, span_y = layout()
    if row.framed_as_app is not None:
        factor = app_framing((span_x, span_y), canvas) * uniform(1, *row.framed_as_app, generator)
        heights, gaps = heights * factor, gaps * factor
        zoom, lefts, tops, widths, span_x, span_y = layout()
    for _ in range(20):  # shrink the row until it fits
        if span_x <= canvas_width - 2 and span_y <= canvas_height - 2:
            break
        heights, gaps = heights * 0.85, gaps * 0.85
        zoom, lefts, tops, widths, span_x, span_y = layout()
    room = torch.tensor([canvas_width - span_x, canvas_height - span_y]).clamp(min=0)
    start = torch.rand(2, generator=generator) * room
    corners = torch.stack([lefts + start[0], tops - tops.min() + start[1]], dim=1)
    return zoom, corners


def render_canvases(
    digits: torch.Tensor,
    labels: torch.Tensor,
    digits_per_canvas: list[int],
    canvas_size: int,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.15, 0.9),
    row_fraction: float = 0.0,
    row: RowLayout = RowLayout(),
    canvas_width: int | None = None,
) -> Canvases:
    """Paste 28x28 float digits (N, 1, 28, 28) onto black canvases `canvas_size` high and
    `canvas_width` wide (default: square), several per canvas when asked.

    Each digit's ink is scaled so its longest side is `scale` of the canvas height (smaller when
    several must fit). Digits are placed apart at random, or, on `row_fraction` of the canvases of
    several digits, written in a row (`row`: close, touching, overlapping). Boxes are read off each
    rendered digit with the ink rule, so they match the ground truth exactly.
    """
    source_boxes = ink_boxes(ink_mask(digits[:, 0]))
    sides = (source_boxes[:, 2:] - source_boxes[:, :2]).clamp(min=1)  # (N, 2) ink width, height
    canvas = (canvas_size, canvas_width or canvas_size)
    thetas, used = [], 0
    for count in digits_per_canvas:
        high = scale[1] if count == 1 else max(scale[0], min(scale[1], 1.6 / (count + 1)))
        chosen = slice(used, used + count)
        in_row = count > 1 and torch.rand(1, generator=generator).item() < row_fraction
        while True:
            if in_row:
                zoom, corners = _place_in_row(sides[chosen], canvas, generator, row, (scale[0], 0.6))
                margin = zoom / 2
                corners = corners - margin[:, None]  # as the scattered digits' corners, below
                break
            longest = uniform(count, scale[0], high, generator) * canvas_size
            zoom = longest / sides[chosen].amax(dim=1)
            # bilinear resampling spreads ink half a source pixel (zoom / 2 canvas pixels) past its box
            margin = zoom / 2
            corners = _place_without_overlap(sides[chosen] * zoom[:, None] + 2 * margin[:, None], canvas, generator)
            if corners is not None:
                break
            high = max(scale[0], high * 0.8)
        origin = corners + margin[:, None] - source_boxes[chosen, :2] * zoom[:, None]  # the 28x28 frame's corner
        ratio_x, ratio_y = canvas[1] / (IMAGE_SIZE * zoom), canvas[0] / (IMAGE_SIZE * zoom)
        # affine_grid (align_corners=False): canvas coordinate u -> digit coordinate (u - origin) / zoom.
        tx = ratio_x - 2 * origin[:, 0] / (IMAGE_SIZE * zoom) - 1
        ty = ratio_y - 2 * origin[:, 1] / (IMAGE_SIZE * zoom) - 1
        zeros = torch.zeros_like(ratio_x)
        thetas.append(torch.stack([torch.stack([ratio_x, zeros, tx], 1), torch.stack([zeros, ratio_y, ty], 1)], 1))
        used += count
    grid = scale_shift_grid(torch.cat(thetas), [used, 1, *canvas])
    layers = F.grid_sample(digits[:used], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Quantise like an 8-bit image so the ink rule (> 0 in uint8) applies unchanged.
    layers = quantise(layers)
    # each canvas's digits are consecutive layers, and the canvas is their pixelwise maximum (as
    # scatter_reduce's "amax" by owner gives, several times slower on a CPU)
    split = list(digits_per_canvas)
    images = torch.stack([part.amax(dim=0) for part in torch.split(layers, split)])
    layer_boxes = ink_boxes(ink_mask(layers[:, 0]))
    return Canvases(
        images=images,
        boxes=list(torch.split(layer_boxes, split)),
        labels=list(torch.split(labels[:used], split)),
        masks=ink_mask(images[:, 0]),
    )

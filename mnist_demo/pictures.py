"""Pictures at their own resolution, with the clean ink they show: what the U-Net learns to
segment (MNIST's digits enlarged into crisp ink) and what it is scored on at the input's
resolution (`evaluate`'s "unet_on_input": pendigits' held-out pen paths drawn on a canvas, as
transparent and light-on-dark PNGs and as photos).

A photo is the clean ink printed on tinted paper, blurred, unevenly lit, noisy, speckled and
saved as a JPEG; the U-Net reads it as the app does, through `preprocessing.to_ink`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from mnist_demo.augment import CorruptionStrength, corrupt, uniform
from mnist_demo.constants import DIGIT_BOX_SIZE, IMAGE_SIZE
from mnist_demo.data import ink_mask
from mnist_demo.pendigits import PenDigits, pen_digit
from mnist_demo.preprocessing import Ink, to_ink

# Of a training picture, the digit's ink box is this share of its side.
DIGIT_SHARE = (0.4, 0.85)
# Enlarged MNIST strokes are cut at this level of the smooth enlargement: low for bold strokes,
# high for thin ones.
STROKE_LEVEL = (0.15, 0.95)
# Damage of a photo beyond its blur: lighting, contrast, noise, specks (augment.corrupt's own
# 5-px blur is kept mild; the blur that matters scales with the picture, `PHOTO_BLUR`).
PHOTO_DAMAGE = CorruptionStrength(clean_fraction=0.0, blur_sigma=(0.1, 0.8), ink_level=(0.4, 0.95),
                                  background_level=(0.0, 0.3), lighting_gradient=0.5,
                                  noise_sigma=(0.0, 0.06), speck_rate=(0.0, 0.001))
PHOTO_BLUR = (0.0, 0.004)  # Gaussian blur sigma as a share of the picture's longest side
JPEG_QUALITY = (50, 92)
# Evaluation pictures: drawings on the Sketchpad's 800x800 canvas (digit 15-90% of it, pens from a
# hairline to a marker), and photos of a 1000x750 page.
CANVAS_SIDE = 800
CANVAS_SHARE = (0.15, 0.9)
PEN_SHARE = (0.012, 0.15)  # pen width as a share of the digit's height, log-uniform
PHOTO_SIZE = (750, 1000)  # (H, W)
PICTURE_KINDS = ("drawing", "transparent", "light_on_dark", "photo")


def enlarged_digits(digits: torch.Tensor, side: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, 28, 28) MNIST digits in 0..1 -> (B, 1, side, side) crisp ink: each digit enlarged
    smoothly to 40-85% of the picture at a random place, and cut at a random level with edges
    about a pixel wide, so strokes run from thin to bold with anti-aliased edges as a pen draws them."""
    count = len(digits)
    share = uniform(count, *DIGIT_SHARE, generator)
    frame = share * IMAGE_SIZE / DIGIT_BOX_SIZE  # the 28-px frame's share of the picture
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * (1 - share).clamp(min=0)[:, None] * 0.9
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = 1 / frame, 1 / frame
    theta[:, :, 2] = -shift / frame[:, None]
    grid = F.affine_grid(theta, [count, 1, side, side], align_corners=False)
    smooth = F.grid_sample(digits, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
    level = uniform(count, *STROKE_LEVEL, generator).view(count, 1, 1, 1)
    steepness = (side * frame / IMAGE_SIZE).clamp(min=1).view(count, 1, 1, 1)  # one MNIST pixel -> ~1 px edge
    return ((smooth - level) * steepness + 0.5).clamp(0, 1)


def photographed(ink: torch.Tensor, generator: torch.Generator) -> list[np.ndarray]:
    """(B, 1, H, W) clean ink in 0..1 -> B grey 8-bit photos (H, W) of it: dark ink on tinted paper,
    blurred in proportion to the picture, unevenly lit, noisy, speckled, through a JPEG."""
    count, _, height, width = ink.shape
    sigmas = uniform(count, *PHOTO_BLUR, generator).clamp(min=0.05 / max(height, width)) * max(height, width)
    blurred = gaussian_blur(ink, sigmas)
    damaged = corrupt(blurred, generator, PHOTO_DAMAGE)
    paper = uniform(count, 0.75, 1.0, generator)
    qualities = uniform(count, *JPEG_QUALITY, generator).round().int().tolist()
    photos = []
    for image, white, quality in zip(damaged[:, 0], paper.tolist(), qualities, strict=True):
        grey = ((1 - image) * white * 255).round().byte().numpy()
        buffer = io.BytesIO()
        Image.fromarray(grey).save(buffer, format="JPEG", quality=quality)
        photos.append(np.asarray(Image.open(buffer)))
    return photos


def gaussian_blur(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) images, each blurred with its own sigma (B,): two grouped 1-D convolutions
    (torchvision's gaussian_blur takes one sigma per call; a 2-D kernel 25 px wide costs 12x more)."""
    count, _, height, width = images.shape
    size = int(2 * np.ceil(3 * float(sigmas.max())) + 1)
    offsets = torch.arange(size, dtype=torch.float32) - size // 2
    kernels = torch.exp(-(offsets[None] ** 2) / (2 * sigmas[:, None] ** 2))
    kernels = (kernels / kernels.sum(dim=1, keepdim=True))[:, None, None, :]  # (B, 1, 1, size)
    rows = F.conv2d(images.reshape(1, count, height, width), kernels, padding=(0, size // 2), groups=count)
    both = F.conv2d(rows, kernels.transpose(2, 3), padding=(size // 2, 0), groups=count)
    return both.view_as(images)


@dataclass(frozen=True)
class Picture:
    """One evaluation picture: the ink as the app reads it, the clean ink mask it shows, and for
    photos the grey photo itself (what plain thresholding reads)."""

    ink: Ink
    clean: np.ndarray  # (H, W) bool, the ink rule on the clean drawing
    photo: np.ndarray | None = None  # (H, W) uint8 grey, photos only


def _drawn_on_canvas(points: np.ndarray, canvas: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A pen path drawn as a digit 15-90% of the canvas's shorter side, with a pen from a hairline
    to a marker, at a random place -> (H, W) float ink."""
    height = rng.uniform(*CANVAS_SHARE) * min(canvas)
    pen = max(2.0, height * float(np.exp(rng.uniform(*np.log(PEN_SHARE)))))
    patch = pen_digit(points, height, rng.uniform(1.0, 2.2), pen)
    ink = np.zeros(canvas, dtype=np.float32)
    patch = patch[:canvas[0], :canvas[1]]
    y, x = (int(rng.integers(0, canvas[axis] - patch.shape[axis] + 1)) for axis in (0, 1))
    ink[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    return np.round(ink * 255) / 255  # 8-bit, as every picture is


def as_png(ink: np.ndarray, paper: tuple[int, ...], pen: tuple[int, ...]) -> Image.Image:
    """8-bit ink in colour `pen` over colour `paper` (RGB, or RGBA for a transparent paper), as a
    decoded PNG, as an upload would arrive."""
    mode = "RGBA" if len(paper) == 4 else "RGB"
    mask = Image.fromarray(ink)
    image = Image.composite(Image.new(mode, mask.size, pen), Image.new(mode, mask.size, paper), mask)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return Image.open(buffer)


def picture_set(kind: str, paths: PenDigits, count: int, seed: int) -> list[Picture]:
    """`count` pictures of `kind` (one of PICTURE_KINDS), the first `count` pen paths of `paths`
    drawn as they would reach the app, reproducibly from `seed`."""
    if kind not in PICTURE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PICTURE_KINDS)}; got {kind!r}")
    rng = np.random.default_rng([seed, PICTURE_KINDS.index(kind)])
    generator = torch.Generator().manual_seed(seed)
    pictures = []
    for points in paths.points[:count]:
        canvas = PHOTO_SIZE if kind == "photo" else (CANVAS_SIDE, CANVAS_SIDE)
        ink = _drawn_on_canvas(points, canvas, rng)
        clean = ink_mask(ink)
        dark, light = tuple(map(int, rng.integers(0, 70, 3))), tuple(map(int, rng.integers(185, 256, 3)))
        strokes = np.round(ink * 255).astype(np.uint8)
        if kind == "drawing":  # the Sketchpad's stroke layer
            pictures.append(Picture(Ink(strokes, clean=True), clean))
        elif kind == "transparent":
            pictures.append(Picture(to_ink(as_png(strokes, paper=(*dark, 0), pen=(*dark, 255))), clean))
        elif kind == "light_on_dark":
            pictures.append(Picture(to_ink(as_png(strokes, paper=dark, pen=light)), clean))
        else:
            photo = photographed(torch.from_numpy(ink)[None, None], generator)[0]
            pictures.append(Picture(to_ink(photo), clean, photo))
    return pictures

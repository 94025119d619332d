"""Deterministic test inputs of every kind the app promises to read, built from MNIST test digits
and the fonts matplotlib ships, each delivered exactly as a user would hand it to the predictor
and paired with the ink box of its clean rendering. "other_handwriting" is a proxy (distorted
fonts and pen paths), not handwriting collected from people."""

from __future__ import annotations

import functools
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F

from mnist_demo.augment import CorruptionStrength, corrupt
from mnist_demo.data import DigitSet
from mnist_demo.pen import crop_to_ink, draw_pen, enlarged, pen_drawing, sharpened
from mnist_demo.pictures import as_png
from mnist_demo.preprocessing import ink_box

KINDS = ("drawing", "transparent", "light_on_dark", "photo", "printed", "other_handwriting")
SKETCHPAD_SIDE = 800  # the Sketchpad's default canvas
PHOTO_SIZE = (750, 1000)  # (H, W) of a phone photo
PEN_WIDTH = (0.012, 0.15)  # pen width as a fraction of the digit's longest side, thin to thick
HANDWRITING_HEIGHT = 112  # working height of the handwriting proxies, before they are enlarged
PHOTO_DAMAGE = CorruptionStrength(clean_fraction=0.0, blur_sigma=(0.5, 1.2), ink_level=(0.45, 0.95),
                                  background_level=(0.0, 0.3), lighting_gradient=0.4,
                                  noise_sigma=(0.01, 0.06), speck_rate=(0.0, 0.0005))
# Lining figures only: cmmi10 has old-style figures, the other files have no digits or only symbols.
PRINT_FONT = re.compile(r"DejaVu(Sans|Serif|SansMono)(-\w+)?|STIXGeneral\w*|cm(r|b|ss|tt|ti)10")
# Pen paths (x, y in a box 1 high) of styles MNIST rarely shows: a continental 1 with flag and
# base, a 7 with a crossbar, a 9 with a straight stem.
STROKE_GLYPHS: dict[int, list[list[tuple[float, float]]]] = {
    1: [[(0.15, 0.32), (0.5, 0.0), (0.5, 1.0)], [(0.2, 1.0), (0.8, 1.0)]],
    7: [[(0.05, 0.08), (0.8, 0.02), (0.38, 1.0)], [(0.3, 0.52), (0.85, 0.5)]],
    9: [[(0.42 + 0.32 * np.cos(t), 0.3 + 0.28 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 25)],
        [(0.74, 0.3), (0.72, 1.0)]],
}

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sample:
    """One test input as the user hands it over, with the truth about it."""

    image: dict | Image.Image  # a Sketchpad value for "drawing", a decoded PNG or JPEG otherwise
    label: int
    true_box: Box  # ink box of the clean rendering in input pixels, x1/y1 exclusive
    kind: str


@functools.cache
def digit_fonts() -> tuple[Path, ...]:
    """The fonts shipped with matplotlib that have ordinary 0-9 (never the system's fonts)."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = font_manager.findSystemFonts(fontpaths=[str(folder)], fontext="ttf")
    return tuple(sorted(Path(path) for path in found if PRINT_FONT.fullmatch(Path(path).stem)))


def font_glyph(label: int, font: Path, height: int) -> np.ndarray:
    """One digit in one font, about `height` px tall, cropped to its ink (float 0..1)."""
    face = ImageFont.truetype(str(font), size=max(4, round(height / 0.72)))
    left, top, right, bottom = face.getbbox(str(label))
    image = Image.new("L", (right - left + 4, bottom - top + 4))
    ImageDraw.Draw(image).text((2 - left, 2 - top), str(label), fill=255, font=face)
    return crop_to_ink(np.asarray(image, dtype=np.float32) / 255)


def distort(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random stroke weight, slant, rotation and a smooth elastic warp, as a hand would add them."""
    image = torch.from_numpy(np.pad(values, max(values.shape) // 2))[None, None]
    for _ in range(int(rng.integers(3))):  # a heavier pen: no erosion, which would cut serif hairlines
        image = F.max_pool2d(image, 3, stride=1, padding=1)
    angle, slant = np.deg2rad(rng.uniform(-12, 12)), rng.uniform(-0.3, 0.3)
    cos, sin = np.cos(angle), np.sin(angle)
    theta = torch.tensor([[[cos, -sin + slant * cos, 0.0], [sin, cos + slant * sin, 0.0]]], dtype=torch.float32)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    coarse = torch.from_numpy(rng.normal(0, 0.05, (1, 2, 4, 4)).astype(np.float32))
    warp = F.interpolate(coarse, size=image.shape[-2:], mode="bicubic", align_corners=True)
    warped = F.grid_sample(image, grid + warp.permute(0, 2, 3, 1), mode="bilinear", align_corners=False)
    return crop_to_ink(warped[0, 0].clamp(0, 1).numpy())


def handwriting_proxy(label: int, size: int, font: Path, rng: np.random.Generator) -> np.ndarray:
    """A PROXY for handwriting from outside MNIST, not real handwriting: the digit in `font` or, for
    half the 1s, 7s and 9s, a jittered pen path (continental 1, crossed 7, straight-stem 9), under
    random distortion, enlarged and sharpened so its longest side is about `size` px."""
    if label in STROKE_GLYPHS and rng.random() < 0.5:
        height = HANDWRITING_HEIGHT
        # each stroke shifted as a whole, each point only a little, so curves stay smooth
        paths = [np.array(path) * height + height / 4 + rng.normal(0, 0.04 * height, 2)
                 + rng.normal(0, 0.01 * height, (len(path), 2)) for path in STROKE_GLYPHS[label]]
        glyph = crop_to_ink(draw_pen(paths, height * rng.uniform(0.06, 0.14), (height * 3 // 2, height * 3 // 2)))
    else:
        glyph = font_glyph(label, font, HANDWRITING_HEIGHT)
    return sharpened(distort(glyph, rng), size)


def place(patch: np.ndarray, canvas: tuple[int, int], corner: tuple[float, float]) -> tuple[np.ndarray, Box]:
    """Float ink pasted on a blank (H, W) canvas, grown if need be, at `corner` (x, y as fractions
    of the free room: 0 is the left/top edge, 1 the right/bottom) -> 8-bit ink and its ink box."""
    (height, width), canvas = patch.shape, (max(canvas[0], patch.shape[0]), max(canvas[1], patch.shape[1]))
    x, y = round(corner[0] * (canvas[1] - width)), round(corner[1] * (canvas[0] - height))
    ink = np.zeros(canvas, dtype=np.uint8)
    ink[y:y + height, x:x + width] = np.round(patch * 255).astype(np.uint8)
    return ink, ink_box(ink / 255.0)


def write_number(patches: list[np.ndarray], gap: int, canvas: tuple[int, int],
                 margin: int = 40) -> tuple[np.ndarray, list[Box]]:
    """Float ink patches written left to right, `gap` px apart (0: the ink boxes touch), bottoms
    aligned as on a line of writing, on a blank (H, W) canvas -> 8-bit ink and each digit's ink box."""
    height = max(canvas[0], max(patch.shape[0] for patch in patches) + 2 * margin)
    width = max(canvas[1], sum(patch.shape[1] for patch in patches) + gap * (len(patches) - 1) + 2 * margin)
    ink = np.zeros((height, width), dtype=np.uint8)
    x, baseline = margin, (height + max(patch.shape[0] for patch in patches)) // 2
    boxes = []
    for patch in patches:
        patch_ink = np.round(patch * 255).astype(np.uint8)
        x0, y0, x1, y1 = ink_box(patch_ink / 255.0)
        patch_ink = patch_ink[y0:y1, x0:x1]
        top = baseline - patch_ink.shape[0]
        region = ink[top:baseline, x:x + patch_ink.shape[1]]
        np.maximum(region, patch_ink, out=region)
        boxes.append((x, top, x + patch_ink.shape[1], baseline))
        x += patch_ink.shape[1] + gap
    return ink, boxes


def as_sketchpad(ink: np.ndarray) -> dict:
    """8-bit ink -> the Sketchpad's value: black strokes in a layer's alpha, composite on white."""
    layer = np.zeros((*ink.shape, 4), dtype=np.uint8)
    layer[..., 3] = ink
    composite = np.full((*ink.shape, 4), 255, dtype=np.uint8)
    composite[..., :3] = (255 - ink)[..., None]
    return {"background": np.full((*ink.shape, 4), 255, dtype=np.uint8), "layers": [layer], "composite": composite}


def _decoded(image: Image.Image, format: str, **options: int) -> Image.Image:
    """The image after a round trip through PNG or JPEG bytes, as an upload would arrive."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return Image.open(buffer)


def as_photo(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Dark ink on tinted paper with uneven light, blur, noise and specks, saved as a JPEG."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    damaged = corrupt(torch.from_numpy(ink).float()[None, None] / 255, generator, PHOTO_DAMAGE)[0, 0]
    paper = torch.from_numpy(rng.uniform(0.85, 1.0, 3) * 255).float()
    image = Image.fromarray(((1 - damaged)[..., None] * paper).round().byte().numpy(), "RGB")
    return _decoded(image, "JPEG", quality=int(rng.integers(60, 91)))


def _sample(kind: str, label: int, digit: np.ndarray | None, rng: np.random.Generator) -> Sample:
    """One input of `kind` showing `label` (drawn from the MNIST `digit` where the kind uses MNIST)."""
    if kind == "drawing":
        canvas, size = (SKETCHPAD_SIDE, SKETCHPAD_SIDE), round(rng.uniform(0.15, 0.9) * SKETCHPAD_SIDE)
    else:
        canvas = PHOTO_SIZE if kind == "photo" else (int(rng.integers(200, 1200)), int(rng.integers(200, 1200)))
        size = round(rng.uniform(0.2, 0.85) * min(canvas))
    pen = max(2.0, size * float(np.exp(rng.uniform(*np.log(PEN_WIDTH)))))  # log-uniform: as many thin as thick
    font = digit_fonts()[int(rng.integers(len(digit_fonts())))]
    if kind == "printed":
        patch = font_glyph(label, font, size)
    elif kind == "other_handwriting":
        patch = handwriting_proxy(label, size, font, rng)
    elif kind in ("drawing", "photo") or rng.random() < 0.6:
        patch = pen_drawing(digit, size, pen)
    else:  # a smooth enlargement of the MNIST digit itself
        patch = crop_to_ink(enlarged(crop_to_ink(digit / 255.0), size))
    ink, box = place(patch, canvas, tuple(rng.random(2)))
    if kind == "drawing":
        return Sample(as_sketchpad(ink), label, box, kind)
    dark, light = tuple(map(int, rng.integers(0, 70, 3))), tuple(map(int, rng.integers(185, 256, 3)))
    if kind == "transparent":
        image = as_png(ink, paper=(*dark, 0), pen=(*dark, 255))  # strokes only in the alpha channel
    elif kind == "light_on_dark":
        image = as_png(ink, paper=dark, pen=light)
    elif kind == "photo":
        image = as_photo(ink, rng)
    else:
        image = as_png(ink, paper=light, pen=dark)
    return Sample(image, label, box, kind)


def iter_samples(kind: str, seed: int, digits: DigitSet) -> Iterator[Sample]:
    """An endless reproducible stream of inputs of one kind (one at a time: a Sketchpad value holds
    three 800x800 RGBA arrays); MNIST kinds show random digits of `digits`, font kinds every label
    once in each run of ten."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    while True:
        if kind in ("printed", "other_handwriting"):
            yield from (_sample(kind, int(label), None, rng) for label in rng.permutation(10))
        else:
            index = int(rng.integers(len(digits)))
            yield _sample(kind, int(digits.labels[index]), digits.images[index].numpy(), rng)


def make_samples(kind: str, count: int, seed: int, digits: DigitSet) -> list[Sample]:
    """The first `count` inputs of `iter_samples`.

    >>> samples = make_samples("photo", 3, seed=0, digits=load_digits(Path("data"), train=False))
    >>> samples[0].image.size, samples[0].label, samples[0].true_box
    ((1000, 750), 3, (215, 54, 536, 624))
    """
    return list(itertools.islice(iter_samples(kind, seed, digits), count))

"""Pen-drawn training inputs that MNIST lacks, as the classifier sees them (28x28 MNIST views).

- Digit styles that MNIST's American writers rarely use: continental 1s (flag and foot),
  crossed 7s, open-top 4s, 9s with straight stems, slashed 0s, drawn thin to marker-thick,
  slanted, narrow and wide; and digits printed in the fonts the letters below come from.
- Things that are not digits, for the classifier's extra "not a digit" class: letters and
  symbols in matplotlib's fonts, drawn shapes (star, house, heart, spiral, smiley, ...), scribbles
  and blobs. Letters and symbols that people also write as digits (O, l, I, S, b, g, q, B, |, /)
  are left out: nobody can tell them apart, and refusing a real digit costs more.

Everything is reproducible from a seed, and goes through the app's own `mnist_view`; drawn on
every core (`made_on_every_core`), as redrawn.py's digits and pendigits.py's are too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from mnist_demo.constants import IMAGE_SIZE
from mnist_demo.data import DigitSet
from mnist_demo.pen import draw_pen, smooth_path
from mnist_demo.views import mnist_view

NOT_A_DIGIT = 10  # the classifier's extra class
LETTERS = "ACEFHKMNPRTUVWXYZacdefhkmnprtuvwxyz"
SYMBOLS = "#%&@*+=?~<>{}πΣΩ€£∞"
DRAWING_SIDE = 112  # working size of a drawing, longest side in px, before `mnist_view`
# The seeds of the drawn sets: the classifier trains on one, chooses its epoch and threshold on
# another, and is tested on a third (benchmarks draw from others still).
TRAINING_SEED, VALIDATION_SEED, TEST_SEED = 1, 2, 3
Path2 = list[list[tuple[float, float]]]  # strokes of (x, y) points in a box 1 high


def _circle(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, stop: float = 2 * np.pi,
            points: int = 16) -> list[tuple[float, float]]:
    return [(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in np.linspace(start, stop, points)]


def _star(rng: np.random.Generator) -> Path2:
    tips = int(rng.integers(5, 7))
    angles = np.linspace(-np.pi / 2, 3.5 * np.pi, 2 * tips + 1)
    radii = np.where(np.arange(2 * tips + 1) % 2 == 0, 0.5, rng.uniform(0.18, 0.28))
    return [[(0.5 + r * np.cos(a), 0.5 + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)]]


def _house(rng: np.random.Generator) -> Path2:
    roof = rng.uniform(0.3, 0.45)
    walls = [(0.1, roof), (0.1, 1.0), (0.9, 1.0), (0.9, roof), (0.1, roof)]
    strokes = [walls, [(0.05, roof), (0.5, 0.0), (0.95, roof)]]
    if rng.random() < 0.6:
        strokes.append([(0.42, 1.0), (0.42, 0.7), (0.58, 0.7), (0.58, 1.0)])
    return strokes


def _heart(rng: np.random.Generator) -> Path2:
    t = np.linspace(0, 2 * np.pi, 40)
    x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [list(zip(0.5 + x / 34, 0.45 + y / 34, strict=True))]


def _spiral(rng: np.random.Generator) -> Path2:
    turns = rng.uniform(2.0, 3.5)
    t = np.linspace(0, turns * 2 * np.pi, int(30 * turns))
    r = 0.5 * t / t[-1]
    return [list(zip(0.5 + r * np.cos(t), 0.5 + r * np.sin(t), strict=True))]


def _smiley(rng: np.random.Generator) -> Path2:
    eye = rng.uniform(0.03, 0.06)
    return [_circle(0.5, 0.5, 0.5, 0.5, points=24), _circle(0.33, 0.37, eye, eye, points=8),
            _circle(0.67, 0.37, eye, eye, points=8), _circle(0.5, 0.55, 0.25, 0.18, 0.15 * np.pi, 0.85 * np.pi)]


def _arrow(rng: np.random.Generator) -> Path2:
    return [[(0.0, 0.5), (1.0, 0.5)], [(0.7, 0.25), (1.0, 0.5), (0.7, 0.75)]]


def _polygon(rng: np.random.Generator) -> Path2:
    sides = int(rng.integers(3, 5))  # a triangle or a square: more sides and it is a 0
    angles = np.linspace(0, 2 * np.pi, sides + 1) + rng.uniform(0, np.pi)
    return [[(0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)) for a in angles]]


def _cross(rng: np.random.Generator) -> Path2:
    if rng.random() < 0.5:
        return [[(0.5, 0.0), (0.5, 1.0)], [(0.0, 0.5), (1.0, 0.5)]]
    return [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]]


def _check(rng: np.random.Generator) -> Path2:
    return [[(0.0, 0.55), (0.35, 1.0), (1.0, 0.0)]]


def _zigzag(rng: np.random.Generator) -> Path2:
    turns = int(rng.integers(4, 8))
    return [[(i / turns, float(i % 2)) for i in range(turns + 1)]]


def _wave(rng: np.random.Generator) -> Path2:
    t = np.linspace(0, rng.uniform(2.5, 4) * 2 * np.pi, 60)
    return [list(zip(t / t[-1], 0.5 + 0.3 * np.sin(t), strict=True))]


def _scribble(rng: np.random.Generator) -> Path2:
    """Random points joined smoothly: the tangle a bored hand draws."""
    return [[tuple(point) for point in rng.uniform(0, 1, (int(rng.integers(8, 20)), 2))]]


SHAPES: dict[str, Callable[[np.random.Generator], Path2]] = {
    "star": _star, "house": _house, "heart": _heart, "spiral": _spiral, "smiley": _smiley, "arrow": _arrow,
    "polygon": _polygon, "cross": _cross, "check": _check, "zigzag": _zigzag, "wave": _wave, "scribble": _scribble,
}

# Shapes whose parts are drawn too; a part of a square, a cross or a check is a corner or a line, as
# in a 7, a 4 or a 1.
PARTED_SHAPES = ("star", "house", "spiral", "smiley", "zigzag", "wave", "scribble")

# Styles of digits that MNIST rarely shows, as pen paths in a box 1 high. The "in one stroke"
# ones are two-stroke digits as a tablet records them when the pen's lifts are lost: the way from
# the end of the first stroke to the start of the second is inked too.
DIGIT_STYLES: dict[int, list[Path2]] = {
    0: [[_circle(0.5, 0.5, 0.3, 0.5, points=20), [(0.85, 0.05), (0.15, 0.95)]]],  # slashed
    1: [[[(0.2, 0.3), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],  # flag and foot
        [[(0.15, 0.35), (0.55, 0.0), (0.55, 1.0)]]],  # long flag
    4: [[[(0.55, 0.0), (0.05, 0.65), (0.95, 0.65)], [(0.7, 0.3), (0.7, 1.0)]],  # closed, stem apart
        [[(0.1, 0.0), (0.05, 0.6), (0.9, 0.6)], [(0.7, 0.05), (0.7, 1.0)]],  # open top
        [[(0.15, 0.0), (0.1, 0.6), (0.9, 0.6), (0.7, 0.05), (0.7, 1.0)]]],  # open top, in one stroke
    7: [[[(0.05, 0.08), (0.85, 0.02), (0.4, 1.0)], [(0.3, 0.52), (0.85, 0.5)]],  # crossed
        [[(0.1, 0.2), (0.1, 0.0), (0.85, 0.02), (0.45, 1.0)]],  # with a hook
        [[(0.05, 0.08), (0.85, 0.02), (0.4, 1.0), (0.25, 0.52), (0.85, 0.5)]]],  # crossed, in one stroke
    9: [[_circle(0.45, 0.28, 0.32, 0.28, points=20), [(0.77, 0.28), (0.75, 1.0)]]],  # straight stem
}


@functools.cache
def _fonts() -> tuple[Path, ...]:
    """The fonts matplotlib ships (never the system's) that have Latin letters (the Display and
    STIX size variants hold only a few symbols)."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = [Path(path) for path in font_manager.findSystemFonts(fontpaths=[str(folder)], fontext="ttf")]
    return tuple(sorted(path for path in found
                        if path.stem.startswith(("DejaVu", "STIXGeneral")) and "Display" not in path.stem))


def _glyph(text: str, font: Path, side: int) -> np.ndarray:
    """`text` in `font`, about `side` px tall, as float ink (0..1); empty if the font lacks it."""
    face = ImageFont.truetype(str(font), size=side)
    left, top, right, bottom = face.getbbox(text)
    image = Image.new("L", (max(1, right - left + 8), max(1, bottom - top + 8)))
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, fill=255, font=face)
    return np.asarray(image, dtype=np.float32) / 255


def drawn_strokes(strokes: Path2, rng: np.random.Generator, side: int = DRAWING_SIDE) -> np.ndarray:
    """Pen paths (a box 1 high) jittered as a hand would, slanted and stretched, drawn about `side`
    px high with a pen from fine to marker-thick -> float ink."""
    slant, stretch = rng.uniform(-0.35, 0.35), float(np.exp(rng.uniform(-0.45, 0.45)))
    warp = np.array([[stretch, slant], [0.0, 1.0]])
    paths = []
    for stroke in strokes:
        points = np.asarray(stroke) @ warp.T + rng.normal(0, 0.025, 2) + rng.normal(0, 0.012, (len(stroke), 2))
        # curves (many points) drawn smooth; the corners of a 7 or a 4 stay corners
        paths.append(smooth_path(points * side, samples_per_segment=4) if len(stroke) > 12 else points * side)
    pen = side * float(np.exp(rng.uniform(np.log(0.05), np.log(0.22))))
    offset = np.concatenate(paths).min(axis=0) - pen
    paths = [path - offset for path in paths]
    extent = np.ceil(np.concatenate(paths).max(axis=0) + pen).astype(int)
    return draw_pen(paths, pen, (int(extent[0]), int(extent[1])))


def _blob(rng: np.random.Generator, side: int) -> np.ndarray:
    """A filled disc or ellipse: a dot made big, or a digit inked over."""
    width, height = (side * rng.uniform(0.3, 1.0, 2)).astype(int) + 4
    image = Image.new("L", (int(width) + 8, int(height) + 8))
    ImageDraw.Draw(image).ellipse((4, 4, 4 + width, 4 + height), fill=255)
    return np.asarray(image, dtype=np.float32) / 255


def _part(drawing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random part of a drawing, half to most of it each way: what the detector may box of a
    shape (the right half of a star reads as a 3)."""
    height, width = drawing.shape
    part_height, part_width = (np.array([height, width]) * rng.uniform(0.5, 0.85, 2)).astype(int) + 1
    top, left = int(rng.integers(height - part_height + 1)), int(rng.integers(width - part_width + 1))
    part = drawing[top:top + part_height, left:left + part_width]
    return part if part.max() > 0.5 else drawing


def not_a_digit_drawing(rng: np.random.Generator, side: int = DRAWING_SIDE) -> np.ndarray:
    """One thing that is not a digit, about `side` px high, as float ink: a letter or symbol in a
    font (40%), a drawn shape or scribble, whole or a part of it (50%), or a blob (10%)."""
    pick = rng.random()
    if pick < 0.4:
        characters = LETTERS if rng.random() < 0.75 else SYMBOLS
        character = characters[int(rng.integers(len(characters)))]
        glyph = _glyph(character, _fonts()[int(rng.integers(len(_fonts())))], side)
        return glyph if glyph.max() > 0 else _blob(rng, side)
    if pick < 0.9:
        name = list(SHAPES)[int(rng.integers(len(SHAPES)))]
        drawing = drawn_strokes(SHAPES[name](rng), rng, side)
        return _part(drawing, rng) if name in PARTED_SHAPES and rng.random() < 0.3 else drawing
    return _blob(rng, side)


def digit_style_drawing(label: int, rng: np.random.Generator) -> np.ndarray:
    """One digit of `label` (a key of DIGIT_STYLES) in a style MNIST rarely shows, as float ink."""
    styles = DIGIT_STYLES[label]
    return drawn_strokes(styles[int(rng.integers(len(styles)))], rng)


def whole_view(drawing: np.ndarray) -> np.ndarray | None:
    """A float ink drawing's 28x28 MNIST view, framed from all of it as the app frames a digit."""
    return mnist_view(drawing, (0, 0, drawing.shape[1], drawing.shape[0]))


def as_views(drawings: list[np.ndarray], labels: list[int]) -> DigitSet:
    """Float ink drawings -> their 28x28 MNIST views as the app makes them (uint8, like MNIST)."""
    return views_set([whole_view(drawing) for drawing in drawings], labels)


def views_set(views: list[np.ndarray | None], labels: list[int]) -> DigitSet:
    """28x28 float views (None: no ink, left out) and their labels -> a DigitSet of uint8 images."""
    kept = [index for index, view in enumerate(views) if view is not None]
    images = np.stack([np.round(views[index] * 255) for index in kept]).astype(np.uint8)
    return DigitSet(torch.from_numpy(images).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
                    torch.tensor([labels[index] for index in kept], dtype=torch.long))


def printed_digit(label: int, rng: np.random.Generator) -> np.ndarray:
    """`label` in one of the fonts the letters come from, as float ink: so that a font's look is
    no sign of "not a digit"."""
    return _glyph(str(label), _fonts()[int(rng.integers(len(_fonts())))], DRAWING_SIDE)


def drawn_set(not_digits: int, styled_digits: int, seed: int) -> DigitSet:
    """`not_digits` things that are not digits (label NOT_A_DIGIT) and `styled_digits` digits, half
    in the DIGIT_STYLES and half printed in the letters' fonts, as 28x28 views, in a fixed order
    from `seed`."""
    rng = np.random.default_rng(seed)
    styled = [int(label) for label in rng.choice(sorted(DIGIT_STYLES), styled_digits - styled_digits // 2)]
    printed = [int(label) for label in rng.integers(0, 10, styled_digits // 2)]
    drawings = [not_a_digit_drawing(rng) for _ in range(not_digits)]
    drawings += [digit_style_drawing(label, rng) for label in styled]
    drawings += [printed_digit(label, rng) for label in printed]
    return as_views(drawings, [NOT_A_DIGIT] * not_digits + styled + printed)


class _Made(torch.utils.data.Dataset):
    """Item i: `make(*arguments[i])`."""

    def __init__(self, make: Callable[..., Any], arguments: list[tuple]) -> None:
        self.make, self.arguments = make, arguments

    def __len__(self) -> int:
        return len(self.arguments)

    def __getitem__(self, index: int) -> Any:
        return self.make(*self.arguments[index])


def drawn_views(draw: Callable[..., np.ndarray], arguments: list[tuple]) -> list[np.ndarray | None]:
    """The 28x28 float views (None: no ink) of `draw(*item)` for each item of `arguments`, drawn
    on every core (`made_on_every_core`). `draw` is a module-level function, so that workers
    started by spawn (macOS, Windows) can unpickle it."""
    return made_on_every_core(functools.partial(_view_of_drawing, draw), arguments)


def _view_of_drawing(draw: Callable[..., np.ndarray], *arguments: Any) -> np.ndarray | None:
    return whole_view(draw(*arguments))


def made_on_every_core(make: Callable[..., Any], arguments: list[tuple]) -> list[Any]:
    """`make(*item)` for each item of `arguments`, made by torch's DataLoader workers, in order."""
    workers = min(os.cpu_count() or 1, len(arguments) // 100)  # a few hundred are quicker made here
    # in lists of 100 as they are (collate_fn=list): one tensor in shared memory per view costs as
    # much as drawing it
    chunks = torch.utils.data.DataLoader(_Made(make, arguments), batch_size=100, num_workers=workers,
                                         collate_fn=list)
    return [item for chunk in chunks for item in chunk]

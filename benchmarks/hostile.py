"""Broken and hostile inputs, each with what the app must answer: the catalogue behind the
bad-input tests (predictor, CLI, live endpoint) and the table in docs/bad-inputs.md.

Every case is built on the fly from the repo's examples/ (no binary fixtures), as a file when a
user could upload it, as a numpy array or Sketchpad value when only the Python API takes it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_demo.pen import draw_pen
from mnist_demo.preprocessing import ImageSource

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
SIDE = 800  # the Sketchpad's side in these cases


@dataclass(frozen=True)
class Case:
    """One bad input and the answer it must get."""

    name: str
    build: Callable[[Path], ImageSource]  # writes into the folder when it makes a file
    expect: str  # "number": read as `text`; "none": no digit, message contains `text`; "error": InputError with `text`
    text: str


def example(name: str) -> Image.Image:
    with Image.open(EXAMPLES_DIR / name) as image:
        return image.copy()


def _save(folder: Path, name: str, image: Image.Image, **options: object) -> Path:
    path = folder / name
    image.save(path, **options)
    return path


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _sketch(strokes: np.ndarray) -> dict:
    """Black strokes (0..255 alpha, H x W) as the Sketchpad's value."""
    layer = np.zeros((*strokes.shape, 4), dtype=np.uint8)
    layer[..., 3] = strokes
    white = np.full((*strokes.shape, 4), 255, dtype=np.uint8)
    composite = white.copy()
    composite[..., :3] = (255 - strokes)[..., None]
    return {"background": white, "layers": [layer], "composite": composite}


def _dot(folder: Path) -> Path:
    image = Image.new("L", (SIDE, SIDE), 255)
    ImageDraw.Draw(image).ellipse((386, 386, 414, 414), fill=0)  # one click of the 28 px brush
    return _save(folder, "dot.png", image)


def _scribbles() -> dict:
    """Random strokes of the app's brush over the whole canvas."""
    rng = np.random.default_rng(0)
    image = Image.new("L", (SIDE, SIDE), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        points = [tuple(point) for point in rng.uniform(0, SIDE, (4, 2)).tolist()]
        draw.line(points, fill=255, width=28, joint="curve")
    return _sketch(np.asarray(image))


# Things that are not digits, drawn with the app's brush: strokes of (x, y) points in a box 1 high.
NOT_DIGITS: dict[str, list[list[tuple[float, float]]]] = {
    "a letter A": [[(0.1, 1.0), (0.5, 0.0), (0.9, 1.0)], [(0.28, 0.6), (0.72, 0.6)]],
    "a letter Z": [[(0.1, 0.0), (0.9, 0.0), (0.1, 1.0), (0.9, 1.0)]],
    "a star": [[(0.5 + (0.5 if i % 2 == 0 else 0.2) * np.cos(np.pi * (i / 5 - 0.5)),
                 0.5 + (0.5 if i % 2 == 0 else 0.2) * np.sin(np.pi * (i / 5 - 0.5))) for i in range(11)]],
    "a smiley": [[(0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)],
                 [(0.33, 0.35), (0.34, 0.38)], [(0.66, 0.35), (0.67, 0.38)],
                 [(0.5 + 0.25 * np.cos(t), 0.55 + 0.18 * np.sin(t))
                  for t in np.linspace(0.15 * np.pi, 0.85 * np.pi, 12)]],
    "a house": [[(0.1, 0.4), (0.1, 1.0), (0.9, 1.0), (0.9, 0.4), (0.1, 0.4)], [(0.05, 0.4), (0.5, 0.0), (0.95, 0.4)]],
}


def not_a_digit_sketch(name: str) -> dict:
    """One of NOT_DIGITS drawn 400 px high with the app's 28 px brush, in the middle of the Sketchpad."""
    paths = [np.array(stroke) * 400 + 200 for stroke in NOT_DIGITS[name]]
    return _sketch(np.round(draw_pen(paths, 28, (SIDE, SIDE)) * 255).astype(np.uint8))


def _number(folder: Path) -> Path:
    """Two drawn digits side by side: 3 and 7."""
    three, seven = example("drawn_3.png").convert("L"), _on_white(example("transparent_7.png")).convert("L")
    height = max(three.height, seven.height)
    both = Image.new("L", (three.width + seven.width, height), 255)
    both.paste(three, (0, 0))
    both.paste(seven, (three.width, 0))
    return _save(folder, "number_37.png", both)


def _on_white(image: Image.Image) -> Image.Image:
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


def _truncated(folder: Path, name: str, source: str) -> Path:
    data = (EXAMPLES_DIR / source).read_bytes()
    return _write(folder, name, data[: len(data) // 2])


def _zip(folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(EXAMPLES_DIR / "drawn_3.png", "drawn_3.png")
    return _write(folder, "archive.png", buffer.getvalue())


def _sixteen_bit(folder: Path) -> Path:
    grey = np.asarray(example("drawn_3.png").convert("L"), dtype=np.uint16) * 257
    return _save(folder, "grey16.png", Image.fromarray(grey))  # uint16 arrays become mode "I;16"


def _palette(folder: Path) -> Path:
    """Dark strokes on a transparent background, stored as a palette PNG with a transparent index."""
    ink = np.asarray(example("transparent_7.png"))[..., 3] >= 128
    image = Image.fromarray(ink.astype(np.uint8))  # index 0: paper, 1: ink
    image.putpalette([230, 230, 230, 20, 20, 20])  # "L" with a palette becomes "P"
    return _save(folder, "palette.png", image, transparency=0)


def _exif_rotated(folder: Path) -> Path:
    """The 3 stored lying on its side, with the EXIF orientation that stands it up again."""
    image = example("drawn_3.png").convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    return _save(folder, "rotated.jpg", image, exif=exif, quality=95)


def _gif(folder: Path) -> Path:
    frames = [example("drawn_3.png").convert("P"), example("light_on_dark_5.png").convert("P")]
    return _save(folder, "animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=200, loop=0)


def _grey_alpha(folder: Path) -> Path:
    return _save(folder, "grey_alpha.png", example("transparent_7.png").convert("LA"))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><text y="20">3</text></svg>'


def _float_array() -> np.ndarray:
    return np.asarray(example("drawn_3.png").convert("L"), dtype=np.float32) / 255


CASES: tuple[Case, ...] = (
    Case("empty canvas", lambda folder: _sketch(np.zeros((SIDE, SIDE), dtype=np.uint8)), "none", "blank"),
    Case("all white", lambda folder: _save(folder, "white.png", Image.new("RGB", (SIDE, SIDE), "white")),
         "none", "blank"),
    Case("all black", lambda folder: _save(folder, "black.png", Image.new("RGB", (SIDE, SIDE), "black")),
         "none", "blank"),
    Case("one dot", _dot, "none", "does not look like a digit"),
    # a Sketchpad: "covers most of the picture"; saved as a file: "... covered in ink or scribbles?"
    Case("canvas covered in scribbles", lambda folder: _scribbles(), "none", "cover"),
    *(Case(name, lambda folder, name=name: not_a_digit_sketch(name), "none", "does not look like a digit")
      for name in NOT_DIGITS),
    Case("two digits", _number, "number", "37"),
    Case("1x1 px", lambda folder: _save(folder, "one_pixel.png", Image.new("L", (1, 1), 255)), "none", "blank"),
    Case("10000x10000 px", lambda folder: _save(folder, "huge.png", Image.new("1", (10_000, 10_000), 1)),
         "error", "megapixels"),
    Case("decompression bomb (20000x20000, a few kB)",
         lambda folder: _save(folder, "bomb.png", Image.new("1", (20_000, 20_000), 1)), "error", "megapixels"),
    Case("truncated PNG", lambda folder: _truncated(folder, "truncated.png", "drawn_3.png"), "error", "truncated"),
    Case("truncated JPEG", lambda folder: _truncated(folder, "truncated.jpg", "photo_2.jpg"), "error", "truncated"),
    Case("text file named .png", lambda folder: _write(folder, "notes.png", b"shopping list: milk, eggs\n"),
         "error", "not an image"),
    Case("zip named .png", _zip, "error", "not an image"),
    Case("SVG named .png", lambda folder: _write(folder, "drawing.png", SVG), "error", "not an image"),
    Case("empty file", lambda folder: _write(folder, "empty.png", b""), "error", "not an image"),
    Case("16-bit grey PNG", _sixteen_bit, "number", "3"),
    Case("palette PNG with transparency", _palette, "number", "7"),
    Case("CMYK JPEG", lambda folder: _save(folder, "cmyk.jpg", example("photo_2.jpg").convert("CMYK")), "number", "2"),
    Case("photo with EXIF rotation", _exif_rotated, "number", "3"),
    Case("animated GIF (first frame read)", _gif, "number", "3"),
    Case("grey + alpha PNG", _grey_alpha, "number", "7"),
    Case("float array (0..1)", lambda folder: _float_array(), "number", "3"),
    Case("NaN-filled array", lambda folder: np.full((64, 64), np.nan, dtype=np.float32), "error", "NaN"),
    Case("negative array", lambda folder: -_float_array(), "error", "negative"),
    Case("H x W x 2 array", lambda folder: np.zeros((64, 64, 2), dtype=np.uint8), "error", "channels"),
    Case("5-dimensional array", lambda folder: np.zeros((1, 1, 8, 8, 1), dtype=np.uint8), "error", "shape"),
    Case("empty array", lambda folder: np.zeros((0, 0), dtype=np.uint8), "error", "empty"),
)

"""The one preprocessing pipeline (app, CLI, evaluation, tests): any picture of a digit ->
white-on-black ink at the input's resolution -> the 28x28 MNIST-style view, keeping the
transform so boxes and masks map back onto the input's own pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

from mnist_demo.data import ink_mask

# Larger inputs are refused rather than decoded: a 40 MP RGBA image is already 160 MB.
MAX_MEGAPIXELS = 40
Image.MAX_IMAGE_PIXELS = MAX_MEGAPIXELS * 1_000_000

# Background flattening works on a copy whose longest side is at most this.
BACKGROUND_SIDE = 128


class InputError(ValueError):
    """The input is not a usable picture; the message is meant for the person who sent it."""


ImageSource = dict | Image.Image | np.ndarray | str | os.PathLike


@dataclass(frozen=True)
class Ink:
    """An input turned into white-on-black ink intensities at its own resolution: float32 0..1,
    or uint8 0..255 when read straight from 8-bit Sketchpad strokes (an 800x800 layer is then
    turned into floats only where the models read it, on the predictor's working copy)."""

    values: np.ndarray  # (H, W) float32 0..1, or uint8 0..255
    clean: bool  # True when the ink came straight from the Sketchpad's stroke layers

    @property
    def size(self) -> tuple[int, int]:
        return self.values.shape[1], self.values.shape[0]

    @property
    def full(self) -> float:
        """The value of full ink: 255 for uint8 values, 1 for floats."""
        return 255.0 if self.values.dtype == np.uint8 else 1.0


# ---------------------------------------------------------------------------- reading inputs


def open_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image file (first frame, EXIF orientation applied) or raise InputError."""
    name = Path(path).name
    try:
        with Image.open(path) as image:
            # Pillow only raises past twice MAX_IMAGE_PIXELS (it warns in between): refuse from the limit,
            # before anything is decoded.
            if image.width * image.height > Image.MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{image.width}x{image.height}")
            image.seek(0)
            image.load()
            return ImageOps.exif_transpose(image.copy())
    except Image.DecompressionBombError:
        raise InputError(f"{name} is larger than {MAX_MEGAPIXELS} megapixels; send a smaller picture.") from None
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image this app can read (PNG, JPEG, WebP, BMP or GIF).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{name} could not be decoded ({error}); it may be truncated or damaged.") from None


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """RGBA floats -> grey, laid on a backdrop opposite to the ink's own colour.

    Dark strokes on a transparent background land on white (not black, the usual bug);
    light strokes land on black, so they stay visible either way.
    """
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3]
    if alpha.min() >= 1.0:
        return grey
    covered = alpha.sum()
    ink_lightness = float((grey * alpha).sum() / covered) if covered > 0 else 0.0
    backdrop = 1.0 if ink_lightness < 0.5 else 0.0
    return alpha * grey + (1 - alpha) * backdrop


def image_to_grey(image: Image.Image) -> np.ndarray:
    """Any PIL mode (16-bit, palette with transparency, CMYK, grey+alpha...) -> grey floats 0..1."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        return np.clip(values / top, 0, 1) if image.mode != "F" else np.clip(values, 0, 1)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        return _flatten_alpha(np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def array_to_grey(array: np.ndarray) -> np.ndarray:
    """A numpy picture (H, W), (H, W, 1|3|4), uint8 or float 0..1 -> grey floats 0..1."""
    if array.size == 0:
        raise InputError("The picture is empty (no pixels).")
    if array.ndim in (2, 3) and array.shape[0] * array.shape[1] > Image.MAX_IMAGE_PIXELS:
        raise InputError(f"The picture is larger than {MAX_MEGAPIXELS} megapixels; send a smaller one.")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InputError(
            f"A picture array must be H x W or H x W x 1/3/4 channels, got shape {tuple(array.shape)}."
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"A picture array must hold numbers, got {array.dtype}.")
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise InputError("The picture contains NaN or infinite values.")
    if values.min() < 0:
        raise InputError("The picture has negative pixel values; expected 0..1 floats or 0..255 integers.")
    if np.issubdtype(array.dtype, np.integer) or values.max() > 1.0:
        values = values / (65535.0 if values.max() > 255 else 255.0)
    if values.ndim == 2:
        return values
    if values.shape[2] == 1:
        return values[..., 0]
    if values.shape[2] == 4:
        return _flatten_alpha(values)
    return values @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _sketch_layer(layer: Any) -> np.ndarray | None:
    if layer is None:
        return None
    if isinstance(layer, (str, os.PathLike)):
        layer = open_image(layer)
    if isinstance(layer, Image.Image):
        layer = np.asarray(layer.convert("RGBA"))
    return np.asarray(layer)


def _alpha_band(layer: np.ndarray) -> np.ndarray:
    """An RGBA layer's alpha as a contiguous array, uint8 0..255 as it is (Pillow splits an 8-bit
    band out several times faster than numpy reads every fourth byte), other types as float 0..1."""
    if layer.dtype == np.uint8:
        return np.asarray(Image.fromarray(layer).getchannel("A"))
    return layer[..., 3].astype(np.float32) / 255.0


def sketch_to_ink(value: dict) -> Ink | np.ndarray:
    """A Gradio Sketchpad value: the strokes' alpha when the layers hold any (the cleanest ink),
    otherwise the composite (or background) as an ordinary picture, returned as grey."""
    layers = [array for array in map(_sketch_layer, value.get("layers") or []) if array is not None]
    alphas = [_alpha_band(layer) for layer in layers if layer.ndim == 3 and layer.shape[2] == 4]
    if alphas and any(alpha.max() > 0 for alpha in alphas):
        return Ink(alphas[0] if len(alphas) == 1 else np.maximum.reduce(alphas), clean=True)
    picture = value.get("composite")
    if picture is None:
        picture = value.get("background")
    if picture is None:
        return Ink(np.zeros((1, 1), dtype=np.float32), clean=True)
    picture = _sketch_layer(picture)
    return array_to_grey(picture)


def to_grey(source: ImageSource) -> Ink | np.ndarray:
    """Read any accepted input; Sketchpad strokes come back as Ink, everything else as grey floats."""
    if isinstance(source, dict):
        return sketch_to_ink(source)
    if isinstance(source, (str, os.PathLike)):
        return image_to_grey(open_image(source))
    if isinstance(source, Image.Image):
        if source.width * source.height > Image.MAX_IMAGE_PIXELS:
            raise InputError(f"The picture is larger than {MAX_MEGAPIXELS} megapixels; send a smaller one.")
        return image_to_grey(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        return array_to_grey(source)
    raise TypeError(f"predict() takes a Sketchpad dict, PIL image, numpy array or path, not {type(source).__name__}")


# ---------------------------------------------------------------------------- grey -> ink


def make_light_on_dark(grey: np.ndarray) -> np.ndarray:
    """Decide polarity from the picture itself: the border is mostly background."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if np.median(border) > 0.5 else grey


def flat_background_level(light_on_dark: np.ndarray) -> float | None:
    """The paper's level when the whole border is one flat value (a digital drawing), else None."""
    border = np.concatenate([light_on_dark[0], light_on_dark[-1], light_on_dark[:, 0], light_on_dark[:, -1]])
    low, high = float(border.min()), float(border.max())
    return low if high - low <= 2 / 255 else None


def flatten_background(light_on_dark: np.ndarray) -> np.ndarray:
    """Remove uneven lighting and the noise floor: ink stays, paper goes to exactly 0.

    The background is a grey opening (min filter wider than any stroke, then smoothing) on a
    small copy; the noise floor is the median plus four robust deviations of what remains.
    """
    height, width = light_on_dark.shape
    values = torch.from_numpy(np.ascontiguousarray(light_on_dark))[None, None]
    shrink = min(1.0, BACKGROUND_SIDE / max(height, width))
    small = TF.resize(values, [max(1, round(height * shrink)), max(1, round(width * shrink))], antialias=True)
    window = max(3, (max(small.shape[-2:]) // 8) | 1)
    # scipy's filters rather than torch's pools: separable, so 10x faster for these 3-17 px windows;
    # the mean counts only the pixels inside the picture (torch's count_include_pad=False)
    background = ndimage.minimum_filter(small[0, 0].numpy(), window, mode="nearest")
    inside = ndimage.uniform_filter(np.ones_like(background), window, mode="constant")
    background = ndimage.uniform_filter(background, window, mode="constant") / inside
    background = F.interpolate(torch.from_numpy(background)[None, None], size=(height, width), mode="bilinear",
                               align_corners=False)
    residual = (values - background)[0, 0].numpy()
    median = float(np.median(residual))
    spread = float(np.median(np.abs(residual - median))) * 1.4826
    floor = median + 4 * spread + 0.02
    above = residual[residual > floor]
    if above.size == 0:
        return np.zeros_like(residual)
    level = float(np.percentile(above, 95)) - floor
    return np.clip((residual - floor) / max(level, 1e-3), 0.0, 1.0)


def to_ink(source: ImageSource) -> Ink:
    """Steps 1-2 of the pipeline: any input -> white-on-black ink, paper at 0."""
    grey = to_grey(source)
    if isinstance(grey, Ink):
        return grey
    light_on_dark = make_light_on_dark(grey)
    paper = flat_background_level(light_on_dark)
    if paper is not None:  # a digital drawing: no lighting to undo, so skip the slower flattening
        level = float(light_on_dark.max()) - paper
        values = np.clip((light_on_dark - paper) / level, 0, 1) if level > 0 else np.zeros_like(light_on_dark)
        return Ink(values.astype(np.float32), clean=True)
    return Ink(flatten_background(light_on_dark).astype(np.float32), clean=False)


def ink_box(values: np.ndarray) -> tuple[int, int, int, int] | None:
    """The thresholded-ground-truth box of an ink image (x1/y1 exclusive), by the training rule."""
    return mask_box(ink_mask(values))


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1), x1/y1 exclusive, of a bool mask's True pixels; None when there are none."""
    columns, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if columns.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1

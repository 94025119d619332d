"""Pictures for people: the user's own image with the U-Net mask and the detector box drawn on it,
and the 28x28 view the classifier read, enlarged. Drawing is torchvision's `draw_*` utilities."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageOps
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from mnist_demo.inference import Prediction
from mnist_demo.preprocessing import ImageSource, array_to_grey, open_image

MASK_COLOUR = (249, 115, 22)  # orange
BOX_COLOUR = (37, 99, 235)  # blue
DIGIT_VIEW_SCALE = 10


@lru_cache(maxsize=1)
def label_font() -> str:
    """A TrueType font that ships with matplotlib, so box labels are readable without system fonts."""
    return font_manager.findfont("DejaVu Sans")


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    """Grey floats 0..1 -> (H, W, 3) uint8."""
    return np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)


def _flatten_on_white(image: Image.Image) -> np.ndarray:
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:  # opaque already (the Sketchpad's composite)
        return np.asarray(image.convert("RGB"))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if image.mode.startswith("I") or image.mode == "F":
        return _grey_rgb(array_to_grey(np.asarray(image)))
    return np.asarray(image.convert("RGB"))


def display_rgb(source: ImageSource) -> np.ndarray:
    """The user's picture as they see it, (H, W, 3) uint8, transparency shown on white."""
    if isinstance(source, dict):
        picture = source.get("composite")
        if picture is None:
            picture = source.get("background")
        if picture is None:
            return np.full((1, 1, 3), 255, dtype=np.uint8)
        return display_rgb(picture)
    if isinstance(source, (str, os.PathLike)):
        return _flatten_on_white(open_image(source))
    if isinstance(source, Image.Image):
        return _flatten_on_white(ImageOps.exif_transpose(source))
    array = np.asarray(source)
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        rgba = array if array.dtype == np.uint8 else (np.clip(array, 0, 1) * 255).astype(np.uint8)
        return _flatten_on_white(Image.fromarray(rgba))
    return _grey_rgb(array_to_grey(array))


def _drawn_region(prediction: Prediction, width: int, height: int, pad: int) -> tuple[int, int, int, int]:
    """The part of the picture the overlay changes: the mask's and the boxes' extent, plus `pad`."""
    boxes = np.array([reading.box for reading in prediction.digits])
    x0, y0, x1, y1 = boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()
    rows, columns = np.flatnonzero(prediction.mask.any(axis=1)), np.flatnonzero(prediction.mask.any(axis=0))
    if rows.size:
        x0, y0, x1, y1 = min(x0, columns[0]), min(y0, rows[0]), max(x1, columns[-1] + 1), max(y1, rows[-1] + 1)
    return max(0, int(x0) - pad), max(0, int(y0) - pad), min(width, int(x1) + pad), min(height, int(y1) + pad)


def render_overlay(rgb: np.ndarray, prediction: Prediction) -> np.ndarray:
    """The mask in translucent orange and every digit's box in blue with its label, at the image's resolution.

    Only the region holding the mask and boxes is drawn (torchvision's draw_* work on the whole
    tensor they get, and blending a 12-megapixel photo for a digit in one corner is wasted time).
    """
    if not prediction.digits:
        return rgb
    height, width = rgb.shape[:2]
    side = max(height, width)
    line = max(2, side // 200)
    x0, y0, x1, y1 = _drawn_region(prediction, width, height, pad=2 * line)
    out = np.array(rgb, dtype=np.uint8)  # a writable copy
    region = torch.from_numpy(np.ascontiguousarray(out[y0:y1, x0:x1])).permute(2, 0, 1)
    if prediction.mask.shape == (height, width) and prediction.mask.any():
        mask = torch.from_numpy(np.ascontiguousarray(prediction.mask[y0:y1, x0:x1]))
        region = draw_segmentation_masks(region, mask, alpha=0.45, colors=MASK_COLOUR)
    boxes = torch.tensor([reading.box for reading in prediction.digits], dtype=torch.float32)
    boxes -= torch.tensor([x0, y0, x0, y0], dtype=torch.float32)
    captions = [f"{reading.label}  {reading.confidence:.0%}" for reading in prediction.digits]
    region = draw_bounding_boxes(region, boxes, labels=captions, colors=BOX_COLOUR, width=line,
                                 font=label_font(), font_size=max(12, side // 28), label_colors="white",
                                 label_background_colors=BOX_COLOUR, fill_labels=True)
    out[y0:y1, x0:x1] = region.permute(1, 2, 0).numpy()
    return out


def enlarge_digit(digit: np.ndarray, scale: int = DIGIT_VIEW_SCALE) -> np.ndarray:
    """The 28x28 model view as crisp (28*scale)^2 uint8 pixels (nearest neighbour, no blur)."""
    pixels = (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))


def enlarge_digits(digits: list[np.ndarray], scale: int = DIGIT_VIEW_SCALE, gap: int = 1) -> np.ndarray:
    """Several 28x28 views side by side, left to right, `gap` frame pixels of grey between them."""
    tiles = [enlarge_digit(digit, scale) for digit in digits]
    spacer = np.full((tiles[0].shape[0], gap * scale), 96, dtype=np.uint8)
    return np.hstack([part for tile in tiles for part in (spacer, tile)][1:])

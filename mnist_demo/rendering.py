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


def render_overlay(rgb: np.ndarray, prediction: Prediction) -> np.ndarray:
    """The mask in translucent orange and the box in blue with its label, at the image's resolution."""
    if prediction.label is None or prediction.box is None:
        return rgb
    image = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)  # a writable copy
    height, width = rgb.shape[:2]
    if prediction.mask.shape == (height, width) and prediction.mask.any():
        image = draw_segmentation_masks(image, torch.from_numpy(prediction.mask), alpha=0.45, colors=MASK_COLOUR)
    side = max(height, width)
    caption = f"{prediction.label}  {prediction.confidence:.0%}"
    image = draw_bounding_boxes(image, torch.tensor([prediction.box], dtype=torch.float32), labels=[caption],
                                colors=BOX_COLOUR, width=max(2, side // 200), font=label_font(),
                                font_size=max(12, side // 28), label_colors="white",
                                label_background_colors=BOX_COLOUR, fill_labels=True)
    return image.permute(1, 2, 0).numpy()


def enlarge_digit(digit: np.ndarray, scale: int = DIGIT_VIEW_SCALE) -> np.ndarray:
    """The 28x28 model view as crisp (28*scale)^2 uint8 pixels (nearest neighbour, no blur)."""
    pixels = (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))

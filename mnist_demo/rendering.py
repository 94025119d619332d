"""Pictures for people: the user's own image with the U-Net mask and the detector boxes drawn on it,
and the 28x28 views the classifier read, enlarged."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont, ImageOps

from mnist_demo.inference import Prediction
from mnist_demo.preprocessing import ImageSource, array_to_grey, open_image

MASK_COLOUR = (249, 115, 22)  # orange
MASK_ALPHA = 0.45
BOX_COLOUR = (37, 99, 235)  # blue
DIGIT_VIEW_SCALE = 10


@lru_cache(maxsize=16)
def label_font(size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font that ships with matplotlib, so box labels are readable without system fonts."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    """Grey floats 0..1 -> (H, W, 3) uint8."""
    return np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)


def _flatten_on_white(image: Image.Image) -> np.ndarray:
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:  # opaque (the Sketchpad's composite)
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


def render_overlay(rgb: np.ndarray, prediction: Prediction) -> np.ndarray:
    """The mask in translucent orange and every digit's box in blue with its label, at the image's resolution.

    Drawn with Pillow (a colour pasted through the mask, ImageDraw for boxes and captions) rather
    than torchvision's draw_segmentation_masks / draw_bounding_boxes, which blend in float over
    the whole tensor and convert to and from PIL: 4.4 ms against about 1.5 for an 800x800
    sketch, on a path that runs with every pen stroke.
    """
    if not prediction.digits:
        return rgb
    height, width = rgb.shape[:2]
    side = max(height, width)
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if prediction.mask.shape == (height, width):
        rows, columns = np.flatnonzero(prediction.mask.any(axis=1)), np.flatnonzero(prediction.mask.any(axis=0))
        if rows.size:
            x0, y0, x1, y1 = int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1
            alpha = Image.fromarray(prediction.mask[y0:y1, x0:x1].astype(np.uint8) * round(255 * MASK_ALPHA))
            image.paste(MASK_COLOUR, (x0, y0, x1, y1), alpha)
    draw = ImageDraw.Draw(image)
    line, font = max(2, side // 200), label_font(max(12, side // 28))
    for reading in prediction.digits:
        x0, y0, x1, y1 = reading.box
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=BOX_COLOUR, width=line)
        caption = f"{reading.label}  {reading.confidence:.0%}"
        left, top, right, bottom = draw.textbbox((x0 + line, y0 + line), caption, font=font)
        draw.rectangle((left - line, top - line, right + line, bottom + line), fill=BOX_COLOUR)
        draw.text((x0 + line, y0 + line), caption, fill="white", font=font)
    return np.asarray(image)


def enlarge_digit(digit: np.ndarray, scale: int = DIGIT_VIEW_SCALE) -> np.ndarray:
    """The 28x28 model view as crisp (28*scale)^2 uint8 pixels (nearest neighbour, no blur)."""
    pixels = (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))


def enlarge_digits(digits: list[np.ndarray], scale: int = DIGIT_VIEW_SCALE, gap: int = 1) -> np.ndarray:
    """Several 28x28 views side by side, left to right, `gap` frame pixels of grey between them."""
    tiles = [enlarge_digit(digit, scale) for digit in digits]
    spacer = np.full((tiles[0].shape[0], gap * scale), 96, dtype=np.uint8)
    return np.hstack([part for tile in tiles for part in (spacer, tile)][1:])

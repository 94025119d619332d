"""Pictures for people: the user's own image with the U-Net mask and the detector boxes drawn on it,
and the 28x28 views the classifier read, enlarged."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont, ImageOps

from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import ImageSource, array_to_grey, mask_box, open_image

MASK_COLOUR = (249, 115, 22)  # orange
MASK_ALPHA = 0.45
BOX_COLOUR = (37, 99, 235)  # blue
DIGIT_VIEW_SCALE = 10


@lru_cache(maxsize=16)
def label_font(size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font that ships with matplotlib, so box labels are readable without system fonts."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _grey_image(grey: np.ndarray) -> Image.Image:
    """Grey floats 0..1 -> an RGB image."""
    return Image.fromarray((np.clip(grey, 0, 1) * 255).astype(np.uint8)).convert("RGB")


def _on_white(image: Image.Image) -> Image.Image:
    """An RGB copy of `image`, any transparency laid on white."""
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:  # opaque
        return image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        return _grey_image(array_to_grey(np.asarray(image)))
    return image.convert("RGB")


def _opaque(rgba: np.ndarray) -> bool:
    """Is every pixel of an (H, W, 4) uint8 array opaque? Read as one little-endian 32-bit word per
    pixel, alpha is the top byte: all are opaque when the smallest word is at least 0xFF000000
    (a third of the time of reading every fourth byte)."""
    if not rgba.flags.c_contiguous:
        return bool(rgba[..., 3].min() == 255)
    return bool(rgba.view("<u4").min() >= 0xFF000000)


def display_image(source: ImageSource) -> Image.Image:
    """The user's picture as they see it, an RGB (or RGBX) image of its own (drawing on it changes
    nothing of the source), transparency shown on white."""
    if isinstance(source, dict):
        picture = source.get("composite")
        if picture is None:
            picture = source.get("background")
        if picture is None:
            return Image.new("RGB", (1, 1), "white")
        return display_image(picture)
    if isinstance(source, (str, os.PathLike)):
        return _on_white(open_image(source))
    if isinstance(source, Image.Image):
        return _on_white(ImageOps.exif_transpose(source))
    array = np.asarray(source)
    if array.ndim == 3 and array.shape[2] == 4 and array.dtype == np.uint8 and _opaque(array):
        # Opaque (the Sketchpad's composite): read as RGBX, the alpha byte ignored, which Pillow
        # draws on and saves as JPEG as it would RGB; 0.1 ms where converting to RGB takes 0.7.
        return Image.frombytes("RGBX", (array.shape[1], array.shape[0]), np.ascontiguousarray(array))
    if array.ndim == 3 and array.shape[2] in (3, 4) and array.dtype == np.uint8:
        return _on_white(Image.fromarray(array))
    if array.ndim == 3 and array.shape[2] == 4:
        return _on_white(Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)))
    return _grey_image(array_to_grey(array))


def render_overlay(image: Image.Image, prediction: Prediction) -> Image.Image:
    """The mask in translucent orange and every digit's box in blue with its label, drawn onto
    `image` itself (the input as `display_image` shows it) at its resolution; returns `image`.

    Drawn with Pillow on the image as it is (a colour pasted through the mask, ImageDraw for boxes
    and captions) rather than with torchvision's draw_segmentation_masks / draw_bounding_boxes,
    which blend in float over the whole tensor and convert to and from PIL: 4.4 ms against about
    1 ms for an 800x800 sketch, on a path that runs with every pen stroke.
    """
    if not prediction.digits:
        return image
    side = max(image.size)
    mask = prediction.mask
    inked = mask_box(mask) if mask.shape == (image.height, image.width) else None
    if inked is not None:
        # the mask's box tinted as a whole (Image.blend), then pasted back through the 1-bit mask:
        # a third faster than pasting the colour through a translucent 8-bit mask
        region = image.crop(inked)
        tinted = Image.blend(region, Image.new(region.mode, region.size, MASK_COLOUR), MASK_ALPHA)
        x0, y0, x1, y1 = inked
        image.paste(tinted, inked, Image.fromarray(mask[y0:y1, x0:x1]))
    draw = ImageDraw.Draw(image)
    line, font_size = max(2, side // 200), max(12, side // 28)
    for reading in prediction.digits:
        x0, y0, x1, y1 = reading.box
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=BOX_COLOUR, width=line)
        tab = caption_tab(f"{reading.label}  {reading.confidence:.0%}", font_size, line, image.mode)
        # above the box where there is room, so that it hides none of the digit
        image.paste(tab, (x0, y0 - tab.height + 1 if y0 >= tab.height - 1 else y0))
    return image


@lru_cache(maxsize=1024)
def caption_tab(caption: str, font_size: int, line: int, mode: str) -> Image.Image:
    """A box's caption, white on a tab of the box's colour, drawn once per caption and size: the
    same few captions come back with every pen stroke, and rendering text is a fifth of the overlay."""
    left, top, right, bottom = label_font(font_size).getbbox(caption, anchor="lb")
    tab = Image.new(mode, (right - left + 2 * line + 1, bottom - top + 2 * line + 1), BOX_COLOUR)
    ImageDraw.Draw(tab).text((line, line - top), caption, fill="white", font=label_font(font_size), anchor="lb")
    return tab


def enlarge_digit(digit: np.ndarray, scale: int = DIGIT_VIEW_SCALE) -> np.ndarray:
    """The 28x28 model view as crisp (28*scale)^2 uint8 pixels (nearest neighbour, no blur)."""
    pixels = (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))


def enlarge_digits(digits: list[np.ndarray], scale: int = DIGIT_VIEW_SCALE, gap: int = 1) -> np.ndarray:
    """Several 28x28 views side by side, left to right, `gap` frame pixels of grey between them."""
    tiles = [enlarge_digit(digit, scale) for digit in digits]
    spacer = np.full((tiles[0].shape[0], gap * scale), 96, dtype=np.uint8)
    return np.hstack([part for tile in tiles for part in (spacer, tile)][1:])

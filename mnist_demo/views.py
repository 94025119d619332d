"""The models' views of an input: the detector's letterboxed canvas, and the 28x28 MNIST frame
the classifier reads (their frames' maps back to the input are in `frames.py`)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

from mnist_demo.constants import CANVAS_SIZE, DIGIT_BOX_SIZE, IMAGE_SIZE
from mnist_demo.frames import Letterbox
from mnist_demo.preprocessing import Ink, ink_box

# Strokes are normalised at this multiple of the final 20 px digit, then scaled down.
STROKE_SCALE = 4
# Typical stroke width of an MNIST digit, in pixels of the 28x28 frame.
MNIST_STROKE_WIDTH = 2.2


# A wide picture (a number) gets a canvas up to this many times wider than high, so that its digits
# are as large on it as one digit on a square canvas; the detector is convolutional, its second
# stage reads boxes anywhere, and neither cares about the canvas's width.
MAX_CANVAS_ASPECT = 4


def letterbox_width(width: float, height: float, canvas_size: int = CANVAS_SIZE) -> int:
    """How wide `letterbox` makes the canvas for a region of (width, height): 1 to
    MAX_CANVAS_ASPECT times `canvas_size`, in steps of it."""
    return canvas_size * int(np.clip(np.ceil(width / height - 0.25), 1, MAX_CANVAS_ASPECT))


def letterbox(ink: Ink, region: tuple[int, int, int, int] | None = None,
              canvas_size: int = CANVAS_SIZE) -> tuple[torch.Tensor, Letterbox]:
    """A region of the drawing (default: all of it), aspect kept, centred in a black canvas
    (anti-aliased) `canvas_size` high and as wide as the region needs: 1 to MAX_CANVAS_ASPECT
    times its height, in steps of the height. Zooming to the ink's surroundings keeps a small
    digit on a large picture from shrinking to a few canvas pixels."""
    x0, y0, x1, y1 = region or (0, 0, *ink.size)
    width, height = x1 - x0, y1 - y0
    canvas_width = letterbox_width(width, height, canvas_size)
    scale = min(canvas_size / height, canvas_width / width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    patch = torch.from_numpy(np.ascontiguousarray(ink.values[y0:y1, x0:x1])).float() / ink.full
    resized = TF.resize(patch[None, None], [new_height, new_width], antialias=True)
    canvas = torch.zeros(1, 1, canvas_size, canvas_width)
    left, top = (canvas_width - new_width) // 2, (canvas_size - new_height) // 2
    canvas[..., top:top + new_height, left:left + new_width] = resized.clamp(0, 1)
    return canvas, Letterbox(scale=scale, offset_x=left, offset_y=top, region_x=x0, region_y=y0)


# The strokes proper of a grey digit: its pixels above this fraction of its darkest ink.
STROKE_LEVEL = 0.3


def stroke_width(image: np.ndarray) -> float:
    """Mean stroke width of a grey digit: twice its area over its boundary length."""
    ink = image > STROKE_LEVEL * image.max()
    area = int(ink.sum())
    # boundary pixels: ink with a 4-neighbour that is not ink (off the picture counts as not ink)
    interior = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    return 2.0 * area / max(area - int(interior.sum()), 1)


def thicken_strokes(image: torch.Tensor, target: float) -> torch.Tensor:
    """Thicken strokes thinner than `target` px (grey dilation). Heavy strokes are left alone:
    eroding them wipes out the thin parts of bold digits."""
    return thicken_strokes_by(image, target)[0]


def thicken_strokes_by(image: torch.Tensor, target: float) -> tuple[torch.Tensor, int]:
    """`thicken_strokes`, and by how many pixels each stroke grew on every side."""
    width = stroke_width(image.numpy())
    if width < 0.8 * target:
        size = max(3, int(round(target - width)) | 1)
        # scipy's maximum filter rather than torch's max_pool2d: the same values, but separable, so
        # 5-10x faster for the 5-15 px windows a fine pen needs (0.7 ms against 0.07 for 7 px here)
        return torch.from_numpy(ndimage.maximum_filter(image.numpy(), size=size, mode="nearest")), size // 2
    return image, 0


def mnist_like_strokes(canvas: torch.Tensor, ink_height: float) -> tuple[torch.Tensor, int]:
    """The detector's (1, 1, H, W) canvas with strokes thinner than MNIST's (for digits
    `ink_height` canvas px tall) thickened, and by how much: the detector learnt digits on
    MNIST's strokes and splits a digit drawn with a fine pen into pieces."""
    thick, grown = thicken_strokes_by(canvas[0, 0], MNIST_STROKE_WIDTH / DIGIT_BOX_SIZE * ink_height)
    return thick[None, None], grown


def mnist_view(values: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray | None:
    """The ink inside `region` (input pixels) -> its (28, 28) float32 MNIST view, white on black, 0..1.

    Crop to the ink, scale the longest side to 20 px (anti-aliased) with strokes brought to
    MNIST's width on the way, and place by centre of mass: the recipe MNIST was built with.
    None when the region holds no ink.
    """
    height, width = values.shape
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(width, int(np.ceil(region[2]))), min(height, int(np.ceil(region[3])))
    patch = values[y0:y1, x0:x1]
    tight = ink_box(patch) if patch.size else None
    if tight is None:
        return None
    tx0, ty0, tx1, ty1 = tight
    crop = torch.from_numpy(np.ascontiguousarray(patch[ty0:ty1, tx0:tx1]))
    work_side = STROKE_SCALE * DIGIT_BOX_SIZE
    zoom = work_side / max(tx1 - tx0, ty1 - ty0)
    size = [max(1, round((ty1 - ty0) * zoom)), max(1, round((tx1 - tx0) * zoom))]
    big = TF.resize(crop[None, None], size, antialias=True)[0, 0].clamp(min=0)
    # room for the strokes to grow: thickening to MNIST's width adds at most half of it each side
    margin = int(np.ceil(MNIST_STROKE_WIDTH * STROKE_SCALE / 2)) + 1
    big = thicken_strokes(F.pad(big, [margin] * 4), MNIST_STROKE_WIDTH * STROKE_SCALE)
    bx0, by0, bx1, by1 = ink_box((big / big.max().clamp(min=1e-6)).numpy())
    big = big[by0:by1, bx0:bx1]
    shrink = DIGIT_BOX_SIZE / max(bx1 - bx0, by1 - by0)
    small = TF.resize(big[None, None], [max(1, round((by1 - by0) * shrink)), max(1, round((bx1 - bx0) * shrink))],
                      antialias=True)[0, 0].clamp(0, None)
    small = (small / small.max().clamp(min=1e-6)).numpy()
    rows, columns = np.indices(small.shape)
    mass = small.sum()
    centre_y, centre_x = (rows * small).sum() / mass, (columns * small).sum() / mass
    h, w = small.shape
    # MNIST's own centres of mass sit at (14, 14) in pixel-index coordinates
    left = int(np.clip(round(IMAGE_SIZE / 2 - centre_x), 0, IMAGE_SIZE - w))
    top = int(np.clip(round(IMAGE_SIZE / 2 - centre_y), 0, IMAGE_SIZE - h))
    digit = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    digit[top:top + h, left:left + w] = small
    return digit

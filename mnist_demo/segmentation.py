"""The U-Net's ink mask at the picture's own resolution.

The U-Net reads a small copy of the ink's surroundings, GRID_HEIGHT px high, where strokes are
a few pixels wide, and answers for every place of it the ink level above which a pixel of the
picture is ink: a threshold map, as DBNet's differentiable binarisation learns one (Liao et al.,
"Real-time Scene Text Detection with Differentiable Binarization", 2020). The map is enlarged to
the picture's pixels and compared there with the picture's own ink, so the mask follows the
person's strokes at the picture's resolution however small the U-Net's copy: on a drawing every
inked pixel, on a photo the ink without its blur, noise and specks. The mask covers the whole
picture, so no box can cut it off where a stroke goes on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

from mnist_demo.data import normalise
from mnist_demo.frames import WorkingCopy
from mnist_demo.preprocessing import Ink

GRID_HEIGHT = 64  # the U-Net's copy of the ink's surroundings is this many pixels high
MAX_GRID_ASPECT = 8  # ...and at most this many times wider (a long number)
# Thresholds are levels of ink ** THRESHOLD_GAMMA: the ink rule counts every pixel above 0, and
# in this scale the faintest such pixel (1/255) sits at 0.25, far enough from the paper's 0 for
# a threshold between them to be learnt.
THRESHOLD_GAMMA = 0.25
# The U-Net answers a logit per place, and its threshold there is MAX_THRESHOLD * sigmoid(logit):
# above 0, so paper with no ink at all is never ink, and up to above any ink (1), so that a speck
# can be left out whole.
MAX_THRESHOLD = 1.25
INK_POWER = (np.arange(256, dtype=np.float32) / np.float32(255)) ** np.float32(THRESHOLD_GAMMA)  # per 8-bit level
# Training compares ink and threshold softly, sigmoid(SHARPNESS * (ink ** gamma - threshold)), as
# DBNet does (its k = 50).
SHARPNESS = 50.0


def grid_size(height: int, width: int) -> tuple[int, int]:
    """The U-Net's copy of a height x width picture: GRID_HEIGHT high, as wide as the aspect says
    (within MAX_GRID_ASPECT), both multiples of 4 (the U-Net halves it twice)."""
    columns = GRID_HEIGHT * min(width / height, MAX_GRID_ASPECT)
    return GRID_HEIGHT, max(4, int(round(columns / 4)) * 4)


def grid_view(values: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) ink in 0..1 -> the U-Net's (B, 1, GRID_HEIGHT, w) normalised input."""
    return normalise(TF.resize(values, list(grid_size(*values.shape[-2:])), antialias=True).clamp(0, 1))


def thresholds_on_picture(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The U-Net's (B, 1, h, w) answer -> its threshold map, enlarged (bilinearly) to the picture's
    (B, 1, H, W)."""
    thresholds = MAX_THRESHOLD * torch.sigmoid(logits.float())
    return F.interpolate(thresholds, size=(height, width), mode="bilinear", align_corners=False)


def soft_ink_logits(values: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Training's soft comparison: logits of 'ink' for (B, 1, H, W) ink values in 0..1 against the
    enlarged threshold map."""
    return SHARPNESS * (values.clamp(min=0).pow(THRESHOLD_GAMMA) - thresholds)


def segment(unet: Callable[[torch.Tensor], torch.Tensor], ink: Ink, work: WorkingCopy) -> np.ndarray:
    """The U-Net's (H, W) bool ink mask of the picture `ink`, read from `work`, the working copy
    of its ink's surroundings (the rest of the picture holds no ink).

    >>> mask = segment(predictor.unet, ink, work)   # ink: to_ink(picture)
    """
    values = torch.from_numpy(np.ascontiguousarray(work.ink.values, dtype=np.float32))[None, None]
    logits = unet(grid_view(values))
    # the working copy's extent in input pixels (it may run past the input's edge by < factor)
    (x0, y0), factor, (height, width) = work.origin, work.factor, ink.values.shape
    span_y, span_x = values.shape[-2] * factor, values.shape[-1] * factor
    level = thresholds_on_picture(logits, span_y, span_x)[0, 0, :height - y0, :width - x0].numpy()
    rows, columns = level.shape
    region = ink.values[y0:y0 + rows, x0:x0 + columns]
    # ink ** gamma: looked up for a drawing's 8-bit ink (a third of the time of a power per pixel)
    powered = INK_POWER[region] if region.dtype == np.uint8 else np.power(region, np.float32(THRESHOLD_GAMMA))
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y0 + rows, x0:x0 + columns] = powered > level
    return mask

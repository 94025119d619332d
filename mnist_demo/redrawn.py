"""MNIST's own training digits redrawn with a round pen along their strokes, fine to marker-thick,
at the sizes people draw, alone and written close in rows, as the classifier sees them (28x28
MNIST views): MNIST's scans are of pencil and ballpoint, and a thick pen closes a loop or joins
two strokes where MNIST's never do.

Everything is reproducible from a seed, drawn on every core (`drawn.made_on_every_core`), and
framed by the app's own code (`mnist_view`, `postprocess.WorkingInk.frame`).
"""

from __future__ import annotations

import numpy as np

from mnist_demo.data import DigitSet, ink_mask
from mnist_demo.drawn import drawn_views, made_on_every_core, views_set
from mnist_demo.pen import pen_drawing
from mnist_demo.postprocess import POST_PROCESSING, WorkingInk

# MNIST digits redrawn with a pen (`pen_redrawn`): each this many px on its longest side, with a
# pen this share of that wide (log-uniform, a fine pen to a marker on a small digit)
REDRAWN_SIZE = (40, 200)
REDRAWN_PEN = (1 / 40, 1 / 6)


def pen_width(size: int, rng: np.random.Generator) -> float:
    """A pen for a digit `size` px on its longest side: REDRAWN_PEN of it (log-uniform), 1.5 px at least."""
    return max(1.5, size * float(np.exp(rng.uniform(*np.log(REDRAWN_PEN)))))


def pen_redrawn(digits: DigitSet, count: int, seed: int) -> DigitSet:
    """`count` of `digits` (chosen from `seed`) redrawn with a pen along their strokes
    (`pen.pen_drawing`) at a random size and pen width, as the 28x28 views the app makes of them.
    Drawn on every core (torch's DataLoader workers, in order): a few milliseconds each, tens of
    thousands of them."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits), size=min(count, len(digits)), replace=False)
    arguments = []  # (image, size, pen) for pen_drawing
    for image in digits.images[chosen].numpy():
        size = int(rng.integers(*REDRAWN_SIZE))
        arguments.append((image, size, pen_width(size, rng)))
    views = drawn_views(pen_drawing, arguments)
    return views_set(views, digits.labels[chosen].tolist())


# MNIST digits redrawn with a pen three at a time, written close in a row (`pen_redrawn_in_rows`):
# neighbours' ink boxes this share of the row's size apart (negative: they overlap), and each
# side of a digit's box off its ink by up to this share of its width or height, either way, as a
# detector's box is off. (The committed detector's boxes, measured later, lie further out: 0.04 of
# the digit's height on each side, +-0.045. Rows framed that way, with a pair of neighbours framed
# as one taught as not a digit, were tried in 6c629c1: MNIST 99.59% and close numbers 93.3%.)
ROW_GAP = (-0.1, 0.15)
BOX_JITTER = 0.08
ROW_LENGTH = 3


def row_views(images: np.ndarray, sizes: list[int], pen: float, gaps: list[float], drops: list[int],
              jitter: np.ndarray) -> list[np.ndarray | None]:
    """MNIST digits (N, 28, 28 uint8) redrawn with one pen, each `sizes` px on its longest side,
    written left to right with `gaps` px between neighbours' ink boxes and each bottom `drops` px
    below the first's -> each one's 28x28 view as the app frames a digit of a number
    (`postprocess.WorkingInk.frame`): from its box, off its ink by `jitter` (N, 4: shares of its
    width or height, left, top, right, bottom), with the neighbours' boxes, as far off theirs,
    blanked. The view keeps what of a neighbour's strokes reaches into the digit's box."""
    patches = [pen_drawing(image, size, pen) for image, size in zip(images, sizes, strict=True)]
    margin = int(max(sizes) * (BOX_JITTER + POST_PROCESSING.box_margin)) + 2
    lefts = np.cumsum([0] + [patch.shape[1] + gap for patch, gap in zip(patches[:-1], gaps, strict=True)])
    lefts = (lefts - lefts.min() + margin).astype(int)
    bottoms = np.array(drops) - min(drops) + max(patch.shape[0] for patch in patches) + margin
    canvas = np.zeros((int(bottoms.max()) + margin, int(max(lefts + [patch.shape[1] for patch in patches])) + margin),
                      dtype=np.float32)
    boxes = []
    for patch, left, bottom, (dx0, dy0, dx1, dy1) in zip(patches, lefts, bottoms, jitter, strict=True):
        height, width = patch.shape
        region = canvas[bottom - height:bottom, left:left + width]
        np.maximum(region, patch, out=region)
        boxes.append((int(left - dx0 * width), int(bottom - height - dy0 * height),
                      int(np.ceil(left + width + dx1 * width)), int(np.ceil(bottom + dy1 * height))))
    ink = WorkingInk(canvas, ink_mask(canvas), clean=True)
    views = []
    for index, box in enumerate(boxes):
        found = ink.frame(box, boxes[:index] + boxes[index + 1:], 0, 0.0, POST_PROCESSING)
        views.append(None if found is None else found.view)
    return views


def pen_redrawn_in_rows(digits: DigitSet, count: int, seed: int) -> DigitSet:
    """`count` of `digits` (chosen from `seed`) redrawn with a pen as `pen_redrawn` draws them,
    ROW_LENGTH at a time written close in a row, as the 28x28 views the app makes of the digits
    of a close-written number (`row_views`): neighbours from slightly overlapping to a few px
    apart, so the ends of a neighbour's strokes reach into a digit's box and its view. The
    classifier learns to read the digit and not the neighbour's ends."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits), size=min(count, len(digits)) // ROW_LENGTH * ROW_LENGTH, replace=False)
    images = digits.images[chosen].numpy()
    arguments = []  # (images, sizes, pen, gaps, drops, jitter) for row_views
    for start in range(0, len(chosen), ROW_LENGTH):
        size = int(rng.integers(*REDRAWN_SIZE))
        pen = pen_width(size, rng)
        sizes = np.round(size * rng.uniform(0.85, 1.1, ROW_LENGTH)).astype(int).tolist()
        gaps = np.round(size * rng.uniform(*ROW_GAP, ROW_LENGTH - 1)).astype(int).tolist()
        drops = np.round(size * rng.uniform(-0.05, 0.05, ROW_LENGTH)).astype(int).tolist()
        jitter = rng.uniform(-BOX_JITTER, BOX_JITTER, (ROW_LENGTH, 4))
        arguments.append((images[start:start + ROW_LENGTH], sizes, pen, gaps, drops, jitter))
    views = [view for row in made_on_every_core(row_views, arguments) for view in row]
    return views_set(views, digits.labels[chosen].tolist())

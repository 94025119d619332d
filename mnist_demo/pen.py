"""Drawing with a round pen: smooth paths through a few points, and strokes rendered as ink.

Used to make training inputs that MNIST lacks: things that are not digits and digits in other
styles (`drawn.py`), and MNIST's own digits redrawn with a pen from fine to marker-thick
(`pen_drawing`, `redrawn.py`); and, in the tests and benchmarks, inputs as people draw them.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.interpolate import CubicHermiteSpline
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from mnist_demo.preprocessing import ink_box

SUPERSAMPLE = 4  # strokes are drawn this much larger, then reduced: anti-aliased edges
SKELETON_SCALE = 4  # MNIST digits are thinned at 4x (112 px), then their skeleton is smoothed
EDGE_SIGMA = 1.0  # px at that scale: a redrawn digit's shape is smoothed this much (pen_drawing)


def smooth_path(points: np.ndarray, samples_per_segment: int = 16) -> np.ndarray:
    """A centripetal Catmull-Rom curve through `points` (N, 2) -> (M, 2) points along it, the
    given points among them.

    scipy draws the cubic pieces; their tangents are Catmull-Rom's, which no dependency offers:
    at each point the slope of the parabola through it and its two neighbours (np.gradient's
    second-order differences), over knots spaced by the square root of the chords, which keeps
    the curve from looping or overshooting where points bunch up."""
    points = np.asarray(points, dtype=np.float64)
    points = points[np.r_[True, np.any(np.diff(points, axis=0) != 0, axis=1)]]  # a repeated point has no chord
    if len(points) < 3:
        return points
    knots = np.r_[0.0, np.cumsum(np.sqrt(np.linalg.norm(np.diff(points, axis=0), axis=1)))]
    curve = CubicHermiteSpline(knots, points, np.gradient(points, knots, axis=0), axis=0)
    steps = knots[:-1, None] + np.diff(knots)[:, None] * np.linspace(0, 1, samples_per_segment, endpoint=False)
    return curve(np.r_[steps.ravel(), knots[-1]])  # every point of the path is on it, corners included


def draw_pen(paths: list[np.ndarray], pen_width: float, size: tuple[int, int]) -> np.ndarray:
    """Polylines (N, 2) of pixel coordinates drawn with a round pen `pen_width` px wide,
    anti-aliased, on a (W, H) `size` canvas -> float ink (H, W) in 0..1."""
    width, height = size
    canvas = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE))
    draw = ImageDraw.Draw(canvas)
    radius = pen_width * SUPERSAMPLE / 2
    stamped: dict[tuple[float, float], None] = {}  # every point once: the ink is the shapes' union
    for path in paths:
        points = [(float(x), float(y)) for x, y in np.asarray(path) * SUPERSAMPLE]
        draw.line(points, fill=255, width=max(1, round(2 * radius)))
        stamped.update(dict.fromkeys(points))
    # A wide line of many short segments leaves hairline gaps at its joints, even with Pillow's
    # round joints: the pen is stamped at every point as well (round joints and caps).
    for x, y in stamped:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32) / 255


def crop_to_ink(values: np.ndarray) -> np.ndarray:
    """Float ink cut to the box of its ink (the ink rule)."""
    x0, y0, x1, y1 = ink_box(values)
    return values[y0:y1, x0:x1]


def enlarged(values: np.ndarray, size: int) -> np.ndarray:
    """Resized (bicubic) so the longest side is `size` px."""
    zoom, image = size / max(values.shape), torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    shape = [max(1, round(values.shape[0] * zoom)), max(1, round(values.shape[1] * zoom))]
    return TF.resize(image[None, None], shape, InterpolationMode.BICUBIC, antialias=True)[0, 0].clamp(0, 1).numpy()


def _deletable(first_pass: bool) -> np.ndarray:
    """Zhang-Suen's test as a table over the 256 ways a pixel's 8 neighbours can be inked: the
    neighbours P2..P9, clockwise from north, are bits 0..7 of the index."""
    codes = np.arange(256)
    n = [(codes >> bit) & 1 for bit in range(8)]
    count = sum(n)
    transitions = sum((a == 0) & (b == 1) for a, b in zip(n, n[1:] + n[:1], strict=True))
    # first pass: P2*P4*P6 = P4*P6*P8 = 0; second pass: P2*P4*P8 = P2*P6*P8 = 0
    gate = (n[0] * n[2] * n[4 if first_pass else 6] == 0) & (n[2 if first_pass else 0] * n[4] * n[6] == 0)
    return (count >= 2) & (count <= 6) & (transitions == 1) & gate


ZHANG_SUEN = (_deletable(True), _deletable(False))
# where P2..P9 sit in a pixel's 3x3 neighbourhood, as (row, column)
NEIGHBOURS = ((0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0))


def _thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning to one-pixel lines (written here: scikit-image is not a dependency),
    each pass one table lookup of every pixel's neighbourhood."""
    image = np.pad(mask, 1).astype(np.uint8)
    height, width = mask.shape
    while True:
        removed = 0
        for deletable in ZHANG_SUEN:
            code = np.zeros((height, width), dtype=np.uint8)
            for bit, (row, column) in enumerate(NEIGHBOURS):
                code |= image[row:row + height, column:column + width] << bit
            delete = (image[1:-1, 1:-1] == 1) & deletable[code]
            image[1:-1, 1:-1][delete] = 0
            removed += int(delete.sum())
        if removed == 0:
            return image[1:-1, 1:-1].astype(bool)


def sharpened(values: np.ndarray, size: int, edge: float = 1.0) -> np.ndarray:
    """Enlarged so the longest side is `size` px, its edges (`edge` px wide before) steepened to
    about 1.5 px, so strokes look inked rather than out of focus."""
    steepness = max(1.0, size / max(values.shape) * edge / 1.5)
    return crop_to_ink(np.clip((enlarged(values, size) - 0.5) * steepness + 0.5, 0, 1))


def pen_drawing(digit: np.ndarray, size: int, pen_width: float) -> np.ndarray:
    """A 28x28 uint8 MNIST digit redrawn with a round pen along its skeleton, longest side about
    `size` px, cropped to its ink (float 0..1).

    A pen line along the skeleton loses what is wider than the strokes: a small loop inked solid
    thins to a hook (a 6 becomes a "("), a blot to a stray line. So the digit's own shape is drawn
    under the line, its strokes made as much thinner or thicker as the pen is than the writer's
    (`restroked`): where the strokes are, it is no wider than the line, and a solid loop stays."""
    side = 28 * SKELETON_SCALE
    # a low threshold, so the faint strokes of some MNIST digits do not break apart
    solid = enlarged(digit / 255.0, side) > 0.3
    skeleton = _thin(solid)
    depth = ndimage.distance_transform_edt(solid) - ndimage.distance_transform_edt(~solid)
    points, segments = _skeleton_lines(skeleton)
    margin = pen_width / 2 + 2
    scale = (size - pen_width) / max(np.ptp(points, axis=0).max(), 1)  # output px per skeleton px
    shape = restroked(depth, skeleton, pen_width / 2 / scale)  # never empty: it holds half the skeleton
    corners = ink_corners(shape)
    fitted = size / np.ptp(corners, axis=0).max()
    if fitted < scale:  # a blot reaches further than the pen's lines: the digit is drawn smaller, to fit
        scale, shape = fitted, restroked(depth, skeleton, pen_width / 2 / fitted)
        corners = ink_corners(shape)
    low, high = np.minimum(points.min(axis=0), corners[0]), np.maximum(points.max(axis=0), corners[1])
    points = (points - low) * scale + margin
    segments = list(points[segments])  # (2, 2) each: one pen segment per pair of 8-connected pixels
    extent = np.ceil((high - low) * scale + 2 * margin).astype(int)
    lines = draw_pen(segments, pen_width, (int(extent[0]), int(extent[1])))
    # the shape moved and scaled as the skeleton's points were (an output pixel's centre u comes from
    # the skeleton's pixel (u + 0.5 - margin) / scale + low), smoothed so the 112 px grid does not
    # show, and its edge steepened to about a pixel, as draw_pen's anti-aliased strokes have
    placed = ndimage.affine_transform(ndimage.gaussian_filter(shape.astype(np.float32), EDGE_SIGMA),
                                      [1 / scale, 1 / scale], offset=(low + (0.5 - margin) / scale)[::-1],
                                      output_shape=lines.shape, order=1)
    # a Gaussian edge rises by 1 / (sqrt(2 pi) sigma) a skeleton px at its middle
    steepness = max(1.0, np.sqrt(2 * np.pi) * EDGE_SIGMA * scale)
    return crop_to_ink(np.maximum(lines, np.clip((placed - 0.5) * steepness + 0.5, 0, 1)))


# a skeleton pixel's neighbours along its line: those within 2.5 px (a 5x5 square less its corners)
NEAR = (np.hypot(*np.mgrid[-2:3, -2:3]) <= 2.5).astype(np.float64)
# the pixel next to a pixel, right, below, below right and below left: each 8-connected pair once
STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _skeleton_lines(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A one-pixel skeleton as lines: each pixel's (x, y) averaged with its neighbours' along the
    line (NEAR), so the skeleton's staircase does not show, (N, 2); and each pair of 8-connected
    pixels, as indices into those points, (M, 2)."""
    rows, columns = np.nonzero(skeleton)
    ink = skeleton.astype(np.float64)
    ys, xs = np.indices(skeleton.shape)
    sums = [ndimage.correlate(ink * coordinate, NEAR, mode="constant")[rows, columns]
            for coordinate in (xs, ys, np.ones_like(xs))]
    points = np.stack(sums[:2], axis=1) / sums[2][:, None]
    index = np.full(np.add(skeleton.shape, 2), -1)  # each pixel's number, -1 off the skeleton; padded by 1
    index[rows + 1, columns + 1] = np.arange(len(rows))
    pairs = np.concatenate([np.stack([index[rows + 1, columns + 1], index[rows + 1 + dy, columns + 1 + dx]], axis=1)
                            for dy, dx in STEPS])
    return points, pairs[pairs[:, 1] >= 0]


def ink_corners(mask: np.ndarray) -> np.ndarray:
    """The (x, y) of a mask's top-left ink pixel and of the corner past its bottom-right one, (2, 2)."""
    rows, columns = np.nonzero(mask)
    return np.array([[columns.min(), rows.min()], [columns.max() + 1, rows.max() + 1]], dtype=np.float64)


def restroked(depth: np.ndarray, skeleton: np.ndarray, pen_radius: float) -> np.ndarray:
    """A digit's ink as if written with a pen of `pen_radius` px: grown or shrunk by the difference
    between that and its strokes' own radius (the median `depth` on its `skeleton`), so parts
    wider than the strokes stay that much wider. `depth`: each pixel's signed distance to the edge
    of the ink (positive inside)."""
    return depth > float(np.median(depth[skeleton])) - pen_radius

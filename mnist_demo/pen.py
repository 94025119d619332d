"""Drawing with a round pen: smooth paths through a few points, and strokes rendered as ink.

Used to make training inputs that MNIST lacks (`drawn.py`) and, in the tests and benchmarks,
inputs as people draw them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy.interpolate import CubicHermiteSpline

SUPERSAMPLE = 4  # strokes are drawn this much larger, then reduced: anti-aliased edges


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
    for path in paths:
        points = [(float(x), float(y)) for x, y in np.asarray(path) * SUPERSAMPLE]
        draw.line(points, fill=255, width=max(1, round(2 * radius)))
        # A wide line of many short segments leaves hairline gaps at its joints, even with Pillow's
        # round joints: the pen is stamped at every point as well (round joints and caps).
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32) / 255

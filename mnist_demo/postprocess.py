"""The rules between the detector and the classifier, and their thresholds, in one frozen config;
and `WorkingInk.frame`, which frames each digit found from its own ink by them.

The models do the reading; these few rules remain because they measurably still help
(`python -m benchmarks.rules` turns each of `RULES` off in turn; tests/test_postprocess.py shows
what each one fixes). The config used is recorded on the detector's card when it is trained,
and the predictor reads it from there. The classifier's training rows are framed by the same
`WorkingInk.frame` (redrawn.pen_redrawn_in_rows).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy import ndimage

from mnist_demo.data import ink_mask
from mnist_demo.frames import Box, WorkingCopy, overlapping, snap_to_ink, union
from mnist_demo.preprocessing import Ink, mask_box
from mnist_demo.views import mnist_view


@dataclass(frozen=True)
class PostProcessing:
    """Every post-processing threshold of the reading pipeline."""

    # Ink on more than this share of the picture is not writing on paper (and the polarity rule,
    # which takes the border for background, no longer holds): "ink covers most of the picture".
    max_ink_coverage: float = 0.5
    # group_parts: two detections are parts of one digit when they overlap by at least this share of
    # the narrower one's width (a bar above a stroke, a tail found twice)...
    part_overlap_share: float = 0.5
    # ...or when their boxes touch (`touching`: within `touch_margin` of the larger box's size) and
    # together they are no wider than this times their height (a digit is about as wide as tall at most)...
    max_digit_aspect: float = 1.1
    touch_margin: float = 0.05
    # ...and the shorter is less than this share of the taller: the loop and the stem of a split 2
    # differ in height, two digits written side by side on a line do not.
    part_height_share: float = 0.6
    # neighbours_strokes: a stroke lying at least this share inside another digit's box, and less
    # than `own_stroke_share` inside this digit's own, is the neighbour's, even where the two boxes overlap.
    neighbour_stroke_share: float = 0.9
    own_stroke_share: float = 0.5
    # follow_strokes: the classifier reads the ink inside the digit's box grown by this share each
    # side, and further, by `follow_step` of its size at a time, where ink crosses the edge.
    box_margin: float = 0.1
    follow_step: float = 0.05
    follow_rounds: int = 20
    # join_refused_parts (Predictor.read_digits): a part the classifier refuses as not a digit is
    # read again together with the digit it shares strokes with (a tick's short arm with its long
    # one, which alone reads as a 1), and what they make together decides.
    join_refused_parts: bool = True
    # read_parts_apart (Predictor.read_parts_apart): a digit grouped from parts is read with each
    # part apart too, and stays in parts when the classifier is surer of every part than of the
    # whole; geometry alone cannot tell a 1 close beside a 3 from a 3 whose stroke was found twice.
    read_parts_apart: bool = True
    # read_neighbours_together (Predictor.read_neighbours_together): two neighbouring digits whose
    # boxes touch are read as one too, and become one when the classifier is surer of the whole
    # than of either, and by `together_margin` surer than of the less sure one. Of a digit the
    # detector found in two, one part is a fragment the classifier is unsure of (a 9's loop alone);
    # of two digits written touching it is sure of both, and a sure read of the pair as one digit
    # (a 4 for "64": it never learnt pairs) differs from theirs by a few hundredths at most.
    read_neighbours_together: bool = True
    together_margin: float = 0.05

    def without(self, rule: str) -> PostProcessing:
        """This config with one rule of `RULES` turned off (benchmarks.rules measures each)."""
        return replace(self, **RULES[rule])


# Every rule, and the fields that turn it off: no two boxes are `same_digit` (neither overlapping
# nor touching is enough), no stroke is a neighbour's, no box grows further than `box_margin`.
RULES: dict[str, dict[str, float | int | bool]] = {
    "group_parts": {"part_overlap_share": math.inf, "max_digit_aspect": 0.0},
    "neighbours_strokes": {"neighbour_stroke_share": math.inf},
    "follow_strokes": {"follow_rounds": 0},
    "join_refused_parts": {"join_refused_parts": False},
    "read_parts_apart": {"read_parts_apart": False},
    "read_neighbours_together": {"read_neighbours_together": False},
}
POST_PROCESSING = PostProcessing()


def same_digit(first: Sequence[float], second: Sequence[float], config: PostProcessing = POST_PROCESSING) -> bool:
    """Are two detection boxes parts of one digit? Yes when they share half the narrower one's
    width (a bar above a stroke, a tail found twice), or when they touch, differ in height and
    their union is shaped like one digit (the loop and the stem of a 2 found apart), not like two
    side by side. (Boxes as plain numbers: a handful of them per input, where a tensor operation
    per comparison would cost more than the arithmetic.)"""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = map(float, first), map(float, second)
    if min(ax1, bx1) - max(ax0, bx0) >= config.part_overlap_share * max(min(ax1 - ax0, bx1 - bx0), 1e-6):
        return True
    short, tall = sorted((ay1 - ay0, by1 - by0))
    if short >= config.part_height_share * tall:
        return False
    x0, y0, x1, y1 = union([first, second])
    return touching(first, second, config) and x1 - x0 <= config.max_digit_aspect * (y1 - y0)


def touching(first: Sequence[float], second: Sequence[float], config: PostProcessing = POST_PROCESSING) -> bool:
    """Do two boxes touch or overlap, give or take `touch_margin` of the larger one's size?"""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = map(float, first), map(float, second)
    margin = config.touch_margin
    grow_x, grow_y = margin * max(ax1 - ax0, bx1 - bx0), margin * max(ay1 - ay0, by1 - by0)
    return max(ax0, bx0) <= min(ax1, bx1) + grow_x and max(ay0, by0) <= min(ay1, by1) + grow_y


def group_parts(boxes: Sequence[Sequence[float]], config: PostProcessing = POST_PROCESSING) -> list[list[int]]:
    """Group detections (most confident first) that are parts of one digit, merging groups until
    no two are `same_digit`; each group lists its detections most confident first."""
    groups = [[index] for index in range(len(boxes))]
    extents = [tuple(box) for box in boxes]
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(groups)), 2):
            if same_digit(extents[a], extents[b], config):
                groups[a] = sorted(groups[a] + groups.pop(b))
                extents[a] = union([extents[a], extents.pop(b)])
                merged = True
                break
    return groups


def neighbours_strokes(strokes: np.ndarray, own: Box, others: list[Box],
                       config: PostProcessing = POST_PROCESSING) -> np.ndarray:
    """Where the strokes that belong to a neighbour are (bool, like `strokes`, scipy.ndimage.label's
    connected ink): those nearly all inside another digit's box and less than half inside `own`
    (`neighbour_stroke_share`, `own_stroke_share`).
    A detector box can reach over a neighbour (a 1's box over the end of the 7 beside it); its
    overlap with the neighbour's box is only blanked for the strokes that are the neighbour's."""
    count = int(strokes.max()) + 1
    sizes = np.bincount(strokes.ravel(), minlength=count).clip(min=1)

    def share_in(box: Box) -> np.ndarray:  # of each stroke's pixels
        x0, y0, x1, y1 = box
        return np.bincount(strokes[y0:y1, x0:x1].ravel(), minlength=count) / sizes

    theirs = ((np.max([share_in(box) for box in others], axis=0) >= config.neighbour_stroke_share)
              & (share_in(own) < config.own_stroke_share))
    theirs[0] = False  # label 0 is the paper
    return theirs[strokes]


def keep_own_ink(values: np.ndarray, own: Box, others: list[Box], theirs: np.ndarray | None = None) -> np.ndarray:
    """`values` with the other digits' boxes blanked (except where they overlap this digit's
    own box), so that touching neighbours neither stretch this digit's region nor appear in its
    view; and, where given (`neighbours_strokes`), the neighbours' strokes wherever they are."""
    if not others:
        return values
    kept = values.copy()
    for x0, y0, x1, y1 in others:
        kept[y0:y1, x0:x1] = 0
    x0, y0, x1, y1 = own
    kept[y0:y1, x0:x1] = values[y0:y1, x0:x1]
    if theirs is not None:
        kept[theirs] = 0
    return kept


def follow_strokes(ink_here: np.ndarray, box: Box, config: PostProcessing = POST_PROCESSING) -> Box:
    """`box` grown by `box_margin`, then on each side where ink crosses its edge, so a box that
    clips a stroke (the foot of a 2, a tail reaching the canvas edge) still gives the whole digit."""
    height, width = ink_here.shape
    grow_x, grow_y = config.box_margin * (box[2] - box[0]), config.box_margin * (box[3] - box[1])
    x0, y0 = max(0, int(box[0] - grow_x)), max(0, int(box[1] - grow_y))
    x1, y1 = min(width, int(np.ceil(box[2] + grow_x))), min(height, int(np.ceil(box[3] + grow_y)))
    for _ in range(config.follow_rounds):
        grow = max(1, int(config.follow_step * max(x1 - x0, y1 - y0)))
        sides = tuple(map(bool, (x0 > 0 and ink_here[y0:y1, x0].any(), y0 > 0 and ink_here[y0, x0:x1].any(),
                                 x1 < width and ink_here[y0:y1, x1 - 1].any(),
                                 y1 < height and ink_here[y1 - 1, x0:x1].any())))
        if not any(sides):
            break
        x0, y0 = max(0, x0 - grow * sides[0]), max(0, y0 - grow * sides[1])
        x1, y1 = min(width, x1 + grow * sides[2]), min(height, y1 + grow * sides[3])
    return x0, y0, x1, y1


def _inside(image: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1]


def join_refused_parts(strokes: np.ndarray, boxes: list[Box], refused: list[bool]) -> dict[int, list[int]]:
    """The digits (by index in `boxes`) that refused parts join, each with its parts: a box the
    classifier refused as not a digit joins the digit read with the most ink inside its box on the
    part's strokes (scipy.ndimage.label's connected ink; none when it shares none). A refused part
    does not own ink: what it makes with the digit it touches is read again as one (a tick's short
    arm and its long one, which alone reads as a 1)."""
    read = [index for index, no in enumerate(refused) if not no]
    joins: dict[int, list[int]] = {}
    for part in (index for index, no in enumerate(refused) if no):
        its_strokes = np.setdiff1d(np.unique(_inside(strokes, boxes[part])), [0])  # once per part
        count, digit = max(((int(np.isin(_inside(strokes, boxes[index]), its_strokes).sum()), index)
                            for index in read), default=(0, -1))
        if count:
            joins.setdefault(digit, []).append(part)
    return joins


def solid_ink(ink: Ink) -> np.ndarray:
    """Where the ink is, as bool: every inked pixel of a drawing; on photos only solid ink, with
    single specks opened away, so that they cannot stretch a box."""
    if ink.clean:
        return ink_mask(ink.values)
    # A 3x3 opening. Not `ndimage.binary_opening`: its border counts as empty, so ink 2 px wide along
    # the picture's edge would be opened away; "nearest" continues the picture past its edge.
    return ndimage.grey_opening(ink.values >= 0.5, size=(3, 3), mode="nearest")


@dataclass(frozen=True)
class FoundDigit:
    """A digit the detector found (its parts grouped), in the working copy's pixels, framed as
    the classifier will read it."""

    box: Box  # the union of its parts' detector boxes
    detector_label: int  # the most confident part's
    detector_score: float
    view: np.ndarray  # (28, 28) float32, the MNIST view of its own ink
    ink_box: Box | None  # its own ink's box (the ink rule) in the region read
    solid_box: Box | None  # its own solid ink's box there (photos only: specks left out)
    parts: tuple[Box, ...] = ()  # its parts' boxes, when the detector found it in several (group_parts)


@dataclass(frozen=True)
class WorkingInk:
    """The working copy's ink as digits are framed from it: its values, its solid ink, and (only
    when asked for: where boxes overlap, or a part is refused) its connected strokes."""

    values: np.ndarray
    solid: np.ndarray
    clean: bool

    @classmethod
    def of(cls, work: WorkingCopy) -> WorkingInk:
        return cls(work.ink.values, solid_ink(work.ink), work.ink.clean)

    @property
    def height(self) -> int:
        """How tall the solid ink is, in working pixels: the digits' height, for which the
        detector's strokes are brought to MNIST's width. (The ink rule's box is no measure of it
        on a photo: faint shading and specks stretch that box to the picture's edges, and strokes
        were thickened as for a digit as tall as the picture.) Where no ink is solid (faint
        strokes only), the ink rule's box is all there is."""
        box = mask_box(self.solid) or mask_box(ink_mask(self.values))
        return 0 if box is None else box[3] - box[1]

    @cached_property
    def strokes(self) -> np.ndarray:
        """The solid ink's connected strokes (scipy.ndimage.label), labelled 1, 2, ...; 0 is paper."""
        return ndimage.label(self.solid)[0]

    def frame(self, box: Box, others: list[Box], label: int, score: float,
              config: PostProcessing) -> FoundDigit | None:
        """The digit in `box` framed from its own ink (its neighbours' boxes `others` and, where
        boxes overlap, their strokes left out), or None when there is no ink to read."""
        theirs = neighbours_strokes(self.strokes, box, others, config) if overlapping([box, *others]) else None
        own_values = keep_own_ink(self.values, box, others, theirs)
        own_solid = keep_own_ink(self.solid, box, others, theirs)
        region = follow_strokes(own_solid, box, config)
        view = mnist_view(own_values, region)
        if view is None:
            return None
        return FoundDigit(box, label, score, view, snap_to_ink(own_values, region),
                          None if self.clean else snap_to_ink(own_solid, region))

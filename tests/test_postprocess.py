"""The post-processing rules that remain (postprocess.py), each with the failure it fixes, and
the config the predictor reads from the detector's card."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks.numbers import written_numbers
from benchmarks.synthetic import SKETCHPAD_SIDE, as_sketchpad, pen_drawing, place, write_number
from mnist_demo.data import DigitSet
from mnist_demo.drawn import SHAPES, drawn_strokes
from mnist_demo.inference import Predictor
from mnist_demo.postprocess import (
    POST_PROCESSING,
    RULES,
    PostProcessing,
    follow_strokes,
    group_parts,
    join_refused_parts,
    keep_own_ink,
    neighbours_strokes,
    same_digit,
    solid_ink,
)
from mnist_demo.preprocessing import Ink
from mnist_demo.ui import CANVAS_SIZE

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def test_parts_of_one_digit_are_one_digit() -> None:
    """same_digit: boxes stacked or touching, of different heights, shaped like one digit together
    are one digit; two boxes of one height side by side are two."""
    assert same_digit((10.0, 0, 50, 30), (12.0, 28, 48, 100))  # a bar above a stroke (a 7's)
    assert same_digit((0.0, 0, 40, 55), (30.0, 0, 60, 100))  # a 4 found as its corner and its stem
    assert not same_digit((0.0, 0, 40, 100), (38.0, 0, 100, 100))  # a 1 touching a 4
    assert not same_digit((0.0, 0, 60, 100), (70.0, 0, 130, 100))  # apart


def test_same_digit_reads_its_thresholds_from_the_config() -> None:
    """The shared width and the touching margin are the config's, not the code's."""
    first, twice = (0.0, 0, 40, 100), (10.0, 0, 50, 100)  # one stroke found twice: they share 30 of 40 px
    assert same_digit(first, twice)
    assert not same_digit(first, twice, dataclasses.replace(POST_PROCESSING, part_overlap_share=0.8))
    corner, stem = (0.0, 0, 40, 55), (41.5, 0, 70, 100)  # 1.5 px apart: within 5% of the wider's 40 px
    assert same_digit(corner, stem)
    assert not same_digit(corner, stem, dataclasses.replace(POST_PROCESSING, touch_margin=0.01))


def test_group_parts_reads_a_split_two_as_one_digit() -> None:
    """What group_parts fixes: the detector found a 2's loop and its foot apart (two boxes), which
    would read as two digits; grouped, they are one, and a third digit beside them stays apart."""
    loop, foot, beside = (0.0, 0, 50, 70), (30.0, 60, 80, 90), (100.0, 0, 150, 90)
    assert group_parts([loop, foot, beside]) == [[0, 1], [2]]
    strict = dataclasses.replace(POST_PROCESSING, part_height_share=0.0)  # the rule's height test off
    assert group_parts([loop, foot, beside], strict) == [[0], [1], [2]]


def test_a_stroke_in_a_neighbours_box_stays_the_neighbours() -> None:
    """neighbours_strokes: where a 1's box reaches over the end of the 7 beside it, the 7's stroke
    stays out of the 1's ink; without the rule the overlap keeps it."""
    ink = np.zeros((100, 200), dtype=np.float32)
    ink[10:15, 10:70] = ink[10:90, 60:70] = 1.0  # the 7: bar and stem, one stroke
    ink[10:90, 100:110] = 1.0  # the 1
    seven, one = (10, 10, 70, 90), (65, 10, 112, 90)
    theirs = neighbours_strokes(ndimage.label(ink > 0)[0], one, [seven])
    assert keep_own_ink(ink, one, [seven])[:, 65:70].any()  # what the rule fixes
    kept = keep_own_ink(ink, one, [seven], theirs)
    assert not kept[:, :70].any() and kept[10:90, 100:110].all()


def test_follow_strokes_recovers_a_clipped_foot() -> None:
    """follow_strokes: a detector box that stops short of a 2's foot (the stroke crosses its edge)
    grows until the stroke ends; without growing, the foot is cut off."""
    ink = np.zeros((120, 120), dtype=bool)
    ink[10:90, 40:46] = True  # the stem
    ink[84:90, 40:110] = True  # the foot, running right past the box
    box = (30, 5, 70, 95)
    x0, y0, x1, y1 = follow_strokes(ink, box)
    assert x1 >= 110 and x0 <= 40 and y1 >= 90
    none = dataclasses.replace(POST_PROCESSING, follow_rounds=0, box_margin=0.0)
    assert follow_strokes(ink, box, none)[2] == 70


def test_each_rule_can_be_turned_off() -> None:
    """PostProcessing.without, which benchmarks.rules measures each rule with: off, group_parts
    groups neither parts of different heights nor a stroke found twice, no stroke is a neighbour's,
    a box grows by its margin only, and each reading rule is skipped. Every rule has a switch."""
    loop, foot, first, twice = (0.0, 0, 50, 70), (30.0, 60, 80, 90), (0.0, 0, 40, 100), (10.0, 0, 50, 100)
    for boxes in ([loop, foot], [first, twice]):
        assert group_parts(boxes) == [[0, 1]]
        assert group_parts(boxes, POST_PROCESSING.without("group_parts")) == [[0], [1]]
    ink = np.zeros((100, 200), dtype=np.float32)
    ink[10:15, 10:70] = ink[10:90, 60:70] = ink[10:90, 100:110] = 1.0  # a 7, and a 1 whose box reaches over it
    strokes, seven, one = ndimage.label(ink > 0)[0], (10, 10, 70, 90), (65, 10, 112, 90)
    assert neighbours_strokes(strokes, one, [seven]).any()
    assert not neighbours_strokes(strokes, one, [seven], POST_PROCESSING.without("neighbours_strokes")).any()
    stroke = np.zeros((120, 120), dtype=bool)
    stroke[50:54, 0:120] = True  # runs right across the box
    assert follow_strokes(stroke, (40, 40, 80, 80)) == (0, 36, 120, 84)
    assert follow_strokes(stroke, (40, 40, 80, 80), POST_PROCESSING.without("follow_strokes")) == (36, 36, 84, 84)
    for rule in ("join_refused_parts", "read_parts_apart", "read_neighbours_together"):
        assert getattr(POST_PROCESSING, rule) and not getattr(POST_PROCESSING.without(rule), rule)
    switches = {field.name for field in dataclasses.fields(PostProcessing) if field.type == "bool"}
    assert switches <= set(RULES), switches - set(RULES)


def test_a_refused_part_joins_the_digit_it_shares_strokes_with() -> None:
    """join_refused_parts: a refused box joins the digit read that shares the most of its strokes;
    a refused box of ink of its own joins none."""
    ink = np.zeros((100, 300), dtype=bool)
    ink[50:90, 10:14] = ink[86:90, 10:60] = ink[10:90, 56:60] = True  # a tick-like stroke: arm, join, long arm
    ink[20:60, 150:154] = True  # a 1 apart
    ink[40:44, 200:240] = True  # a dash of its own
    strokes = ndimage.label(ink)[0]
    boxes = [(50, 10, 62, 92), (8, 48, 52, 92), (148, 18, 156, 62), (198, 38, 242, 46)]
    refused = [False, True, False, True]
    assert join_refused_parts(strokes, boxes, refused) == {0: [1]}
    assert join_refused_parts(strokes, boxes, [False, False, False, True]) == {}


def test_a_refused_part_is_read_with_the_digit_it_joins(predictor: Predictor) -> None:
    """join_refused_parts: the detector may box a tick's two arms apart; the short arm alone is
    refused as not a digit and the long one alone reads as a 1. Read together, the tick is no
    digit. Without the rule, more of 30 hand-drawn ticks are read as digits."""
    ticks = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        tick = drawn_strokes(SHAPES["check"](rng), rng, side=int(rng.integers(150, 500)))
        ticks.append(as_sketchpad(place(tick, (SKETCHPAD_SIDE, SKETCHPAD_SIDE), tuple(rng.random(2)))[0]))
    with_rule = sum(bool(predictor.predict(tick).number) for tick in ticks)
    config = predictor.post_processing
    try:
        predictor.post_processing = config.without("join_refused_parts")
        without = sum(bool(predictor.predict(tick).number) for tick in ticks)
    finally:
        predictor.post_processing = config
    assert with_rule < without and with_rule <= 6, (with_rule, without)


def test_a_one_grouped_with_its_neighbour_is_read_apart(predictor: Predictor, test_digits: DigitSet) -> None:
    """read_parts_apart: group_parts takes a narrow 1 whose box overlaps its neighbour's by half for
    a stroke of that digit found twice, and the two read as one digit (or none). Read apart, the
    classifier is surer of each than of the whole, and they stay apart. Of the close numbers of
    `benchmarks.numbers` (its first 180) with a 1 in them, more are read right with the rule."""
    numbers = [number for number in itertools.islice(written_numbers(test_digits, "close", 100, 0), 180)
               if "1" in number.truth]
    right_with = sum(predictor.predict(as_sketchpad(number.ink)).number == number.truth for number in numbers)
    config = predictor.post_processing
    try:
        predictor.post_processing = config.without("read_parts_apart")
        right_without = sum(predictor.predict(as_sketchpad(number.ink)).number == number.truth for number in numbers)
    finally:
        predictor.post_processing = config
    assert right_with > right_without, (right_with, right_without, len(numbers))


def test_a_digit_found_as_two_is_read_as_one(predictor: Predictor, test_digits: DigitSet) -> None:
    """read_neighbours_together: the detector finds a few pen-drawn digits as two touching ones
    (these drawn with a fine pen: a 0 at two sizes, as "62" and "61", and a 2 as "22"). Read as
    one too, the classifier is surer of the whole than of either part, and much surer than of the
    less sure one: one digit."""
    config = predictor.post_processing
    for index, side in ((490, 180), (490, 240), (1345, 180)):
        drawn = pen_drawing(test_digits.images[index].numpy(), side, 3)
        sketch = as_sketchpad(write_number([drawn], 30, (CANVAS_SIZE[1], CANVAS_SIZE[0]))[0])
        try:
            predictor.post_processing = config.without("read_neighbours_together")
            without = predictor.predict(sketch).number
        finally:
            predictor.post_processing = config
        assert len(without) == 2, (index, without)
        assert predictor.predict(sketch).number == str(int(test_digits.labels[index])), index


def test_solid_ink_opens_specks_away_and_keeps_strokes_at_the_edge() -> None:
    """On a photo a speck of dark pixels is not a stroke, but a stroke 2 px wide along the
    picture's edge is, as much as one inside it."""
    values = np.zeros((40, 40), dtype=np.float32)
    values[10:12, 20:22] = 1.0  # a 2x2 speck
    values[5:35, 0:2] = 0.9  # a stroke 2 px wide on the left edge
    values[5:35, 30:33] = 0.6  # a stroke 3 px wide inside
    solid = solid_ink(Ink(values, clean=False))
    assert not solid[10:12, 20:22].any()
    assert solid[5:35, 0:2].all() and solid[5:35, 30:33].all()
    assert solid.sum() == 30 * 2 + 30 * 3
    assert np.array_equal(solid_ink(Ink(values, clean=True)), values > 0)  # a drawing keeps every pixel


def test_the_detector_card_records_the_config_the_predictor_uses() -> None:
    card = json.loads((WEIGHTS / "detector.json").read_text())
    assert PostProcessing(**card["post_processing"]) == POST_PROCESSING

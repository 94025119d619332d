"""How often the predictor answers "no digit" to things that are not digits, drawn as on the app's
Sketchpad: letters and symbols in matplotlib's fonts, drawn shapes (star, house, heart, spiral,
smiley, arrow, ...), scribbles and blobs, 150-600 px high anywhere on an 800x800 canvas, and the
hand-made ones of the bad-input catalogue (benchmarks/hostile.py).

The drawings come from the generator the classifier trains its "not a digit" class on
(mnist_demo/drawn.py), from another seed: the shapes are new drawings, the kinds are not new, so
this is an optimistic figure. Digits refused as "no digit" (false rejections) are measured per
input kind by `python -m benchmarks.robustness` and on real writers by `python -m benchmarks.pendigits`.

    python -m benchmarks.not_digits --out benchmarks/results/not_digits.json
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch

from benchmarks.common import environment, write_result
from benchmarks.hostile import NOT_DIGITS, not_a_digit_sketch
from benchmarks.synthetic import SKETCHPAD_SIDE, as_sketchpad, place
from mnist_demo.drawn import not_a_digit_drawing
from mnist_demo.inference import Predictor, load_predictor

SEED = 100  # none of drawn.py's TRAINING_SEED, VALIDATION_SEED, TEST_SEED
REPORTED_READINGS = 10


def read_not_digits(predictor: Predictor, count: int, seed: int) -> Counter[str]:
    """How often each number is read from `count` drawn non-digits ("" for "no digit")."""
    rng = np.random.default_rng(seed)
    readings: Counter[str] = Counter()
    for _ in range(count):
        drawing = not_a_digit_drawing(rng, side=int(rng.integers(150, 600)))
        ink, _ = place(drawing, (SKETCHPAD_SIDE, SKETCHPAD_SIDE), tuple(rng.random(2)))
        readings[predictor.predict(as_sketchpad(ink)).number] += 1
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="drawings (default: 500)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_predictor(args.weights, device="cpu")
    readings = read_not_digits(predictor, args.count, args.seed)
    refused = readings.pop("", 0)
    hand_made = {name: predictor.predict(not_a_digit_sketch(name)).number for name in NOT_DIGITS}
    write_result({
        "benchmark": "not_digits", **environment(), "count": args.count, "seed": args.seed,
        "refused": round(refused / args.count, 4),
        "read_as": dict(readings.most_common(REPORTED_READINGS)),
        "hand_made": {name: number or "no digit" for name, number in hand_made.items()},
    }, args.out)


if __name__ == "__main__":
    main()

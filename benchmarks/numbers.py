"""How well the predictor reads whole numbers written in a row, the way people write them on the
app's 1200x480 Sketchpad: MNIST test digits redrawn with a pen (mnist_demo.synthetic), 100-200 px
tall, pens of a twentieth to an eighth of that, 8-40 px apart; 100 numbers of each length 1 to 6,
each digit used once. Prints the share of numbers read exactly, per length and overall.

(`python -m mnist_demo evaluate` scores the detector alone, on its own 96x96 canvases; this is
what a person drawing a number gets from the whole pipeline.)

    MNIST_DATA_DIR=../shared/data python -m benchmarks.numbers --out benchmarks/results/numbers.json
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.common import environment, write_result
from mnist_demo.data import load_digits, resolve_data_dir
from mnist_demo.inference import load_predictor
from mnist_demo.synthetic import as_sketchpad, pen_drawing, write_number
from mnist_demo.ui import CANVAS_SIZE

LENGTHS = range(1, 7)
REPORTED_FAILURES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-length", type=int, default=100, help="numbers of each length (default: 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_predictor(args.weights, device="cpu")
    digits = load_digits(resolve_data_dir(None), train=False)
    rng = np.random.default_rng(args.seed)
    order = iter(rng.permutation(len(digits)).tolist())
    read = {length: 0 for length in LENGTHS}
    failures = []
    for _ in range(args.per_length):
        for length in LENGTHS:
            chosen = [next(order) for _ in range(length)]
            height = int(rng.integers(100, 200))
            patches = [pen_drawing(digits.images[index].numpy(), int(height * rng.uniform(0.85, 1.1)),
                                   max(3, height // int(rng.integers(8, 20)))) for index in chosen]
            ink, _ = write_number(patches, int(rng.integers(8, 40)), (CANVAS_SIZE[1], CANVAS_SIZE[0]))
            truth = "".join(str(int(digits.labels[index])) for index in chosen)
            number = predictor.predict(as_sketchpad(ink)).number
            read[length] += number == truth
            if number != truth and len(failures) < REPORTED_FAILURES:
                failures.append((truth, number))
    write_result({
        "benchmark": "numbers", **environment(), "per_length": args.per_length, "seed": args.seed,
        "number_accuracy": round(sum(read.values()) / (args.per_length * len(LENGTHS)), 4),
        "by_length": {str(length): round(count / args.per_length, 4) for length, count in read.items()},
        "first_failures": failures,
    }, args.out)


if __name__ == "__main__":
    main()

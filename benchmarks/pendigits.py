"""How well the predictor reads real people's handwriting that is not MNIST: the pen paths of UCI
pendigits (30 writers, 8 points each, README in the data folder; read by mnist_demo.pendigits)
drawn the way a person draws on the app's 1200x480 Sketchpad, a smooth stroke with about the
app's brush, 200-400 px tall, anywhere on the canvas. Prints accuracy overall and per class, the
"no digit" answers per class with their messages, and the commonest misreadings.

The classifier trains on three lines in four of the file, so by default only the held-out lines
are read (every fourth, 1,874 digits); `--part all` reads all 7,494, its training lines included.
The file does not say who wrote which line, so the same 30 writers are on both sides of the
split: the held-out score is on new drawings by writers the classifier has seen, not on new
writers.

The file stretches each path's x and y to 0..100 apart, so the writer's width-to-height ratio
is lost (every digit comes as a square, a 1 as wide as a 0). By default each drawing takes the
ink box ratio of a random MNIST training digit of its class; `--aspect square` draws the paths
as the file gives them.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.pendigits --out benchmarks/results/pendigits.json
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import environment, write_result
from benchmarks.synthetic import as_sketchpad, place
from mnist_demo.constants import NUM_CLASSES
from mnist_demo.data import DataUnavailableError, load_digits
from mnist_demo.inference import load_predictor
from mnist_demo.pendigits import PENDIGITS_FILE, mnist_aspects, pen_digit, read_pendigits
from mnist_demo.ui import BRUSH_SIZE, CANVAS_SIZE

REPO_ROOT = Path(__file__).resolve().parent.parent
HEIGHT = (200, 400)  # ink height in px: a digit drawn across half to most of the canvas's height
BRUSH_SPREAD = (0.8, 1.25)  # the brush's width, as a fraction of the app's BRUSH_SIZE
MAX_WIDTH = 0.9  # a drawing at most this share of the canvas wide (a few MNIST digits are wide dashes)
TOP_CONFUSIONS = 15
ASPECTS = ("mnist", "square")
PARTS = ("held-out", "all")


@dataclass(frozen=True)
class ClassScore:
    """What the predictor made of the drawings of one class."""

    accuracy: float
    count: int
    no_digit: int  # answered "no digit"
    no_digit_messages: dict[str, int]  # what the user was told, how often


def sketchpad_drawing(points: np.ndarray, aspect: float, rng: np.random.Generator) -> dict:
    """One pen path as the Sketchpad's value: drawn at a random height, brush and place on the
    app's canvas."""
    height, brush = rng.uniform(*HEIGHT), BRUSH_SIZE * rng.uniform(*BRUSH_SPREAD)
    height = min(height, aspect * MAX_WIDTH * CANVAS_SIZE[0])
    ink, _ = place(pen_digit(points, height, aspect, brush), (CANVAS_SIZE[1], CANVAS_SIZE[0]), tuple(rng.random(2)))
    return as_sketchpad(ink)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None,
                        help=f"data folder holding {PENDIGITS_FILE} and MNIST/ (default: $MNIST_DATA_DIR, "
                             "else ../shared/data)")
    parser.add_argument("--part", choices=PARTS, default="held-out",
                        help="which lines of the file: those the classifier did not train on, or all "
                             "(default: held-out)")
    parser.add_argument("--limit", type=int, default=None, help="read this many random digits (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the order, sizes, brushes and places (default: 0)")
    parser.add_argument("--aspect", choices=ASPECTS, default="mnist",
                        help="width-to-height of each drawing: a random MNIST digit's of its class, or square "
                             "as the file's coordinates (default: mnist)")
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    args.data_dir = Path(args.data_dir or os.environ.get("MNIST_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        digits = read_pendigits(args.data_dir)
    except DataUnavailableError as error:
        raise SystemExit(f"error: {error} Pass --data-dir or set MNIST_DATA_DIR to the folder that holds "
                         "pendigits/.") from None
    if args.part == "held-out":
        digits = digits.part(held_out=True)
    aspects = mnist_aspects(load_digits(args.data_dir, train=True)) if args.aspect == "mnist" else None
    # One thread: the models are too small to gain from more, and a second thread spins idle,
    # many times slower, whenever another process shares the CPU.
    torch.set_num_threads(1)
    predictor = load_predictor(args.weights, device="cpu")
    rng = np.random.default_rng(args.seed)
    chosen = rng.permutation(len(digits))[:args.limit]
    read, silent, misread = Counter(), Counter(), Counter()
    messages = {label: Counter() for label in range(NUM_CLASSES)}
    start = time.perf_counter()
    for index in chosen.tolist():
        label = int(digits.labels[index])
        aspect = 1.0 if aspects is None else float(rng.choice(aspects[label]))
        prediction = predictor.predict(sketchpad_drawing(digits.points[index], aspect, rng))
        if prediction.number == str(label):
            read[label] += 1
        elif prediction.label is None:
            silent[label] += 1
            messages[label][prediction.message] += 1
        else:
            misread[label, prediction.number] += 1
    seconds = time.perf_counter() - start
    counts = Counter(digits.labels[chosen].tolist())
    by_class = {str(label): ClassScore(accuracy=round(read[label] / counts[label], 4), count=counts[label],
                                       no_digit=silent[label], no_digit_messages=dict(messages[label]))
                for label in range(NUM_CLASSES) if counts[label]}
    write_result({
        "benchmark": "pendigits", **environment(), "part": args.part, "count": len(chosen), "seed": args.seed,
        "aspect": args.aspect, "canvas": list(CANVAS_SIZE), "height_px": list(HEIGHT),
        "brush_px": [round(BRUSH_SIZE * spread, 1) for spread in BRUSH_SPREAD],
        "accuracy": round(sum(read.values()) / len(chosen), 4), "no_digit": sum(silent.values()),
        "by_class": {label: asdict(score) for label, score in by_class.items()},
        "top_confusions": [{"label": label, "read_as": number, "count": count}
                           for (label, number), count in misread.most_common(TOP_CONFUSIONS)],
        "seconds": round(seconds, 1), "ms_per_digit": round(1000 * seconds / len(chosen), 1),
    }, args.out)


if __name__ == "__main__":
    main()

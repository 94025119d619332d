"""How well the predictor reads every kind of input the app promises to read: per kind, accuracy,
the share refused as "no digit" (false rejections: every input is a digit) and the detector box's
IoU with the true ink box, on synthetic inputs (benchmarks.synthetic).

    MNIST_DATA_DIR=../shared/data python -m benchmarks.robustness --count 300 --weights weights
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from benchmarks.synthetic import KINDS, Sample, iter_samples
from mnist_demo.data import load_digits, resolve_data_dir
from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.metrics import paired_box_iou

REPORTED_FAILURES = 5


@dataclass(frozen=True)
class KindScore:
    """The predictor's score on the samples of one kind."""

    accuracy: float
    mean_box_iou: float  # a missing box counts as 0
    refused: float  # answered "no digit"
    count: int
    failures: list[tuple[int, int | None]]  # the first few (true label, predicted label)


def score(predictor: Predictor, samples: Iterable[Sample]) -> KindScore:
    """Accuracy and mean box IoU of `predictor` on `samples` (read one at a time)."""
    correct, refused, overlaps, failures = 0, 0, [], []
    for sample in samples:
        result = predictor.predict(sample.image)
        refused += result.label is None
        if result.box is None:
            overlaps.append(0.0)
        else:
            overlaps.append(float(paired_box_iou(torch.tensor([result.box]), torch.tensor([sample.true_box]))[0]))
        if result.label == sample.label:
            correct += 1
        elif len(failures) < REPORTED_FAILURES:
            failures.append((sample.label, result.label))
    count = len(overlaps)
    return KindScore(accuracy=round(correct / count, 4), mean_box_iou=round(sum(overlaps) / count, 4),
                     refused=round(refused / count, 4), count=count, failures=failures)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Accuracy and box IoU of the predictor per kind of input (JSON).")
    parser.add_argument("--count", type=int, default=300, help="samples per kind (default: 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample generators (default: 0)")
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR, else ./data)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="kinds to run (default: all)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # One thread: the models are too small to gain from more, and a second thread spins idle,
    # many times slower, whenever another process shares the CPU.
    torch.set_num_threads(1)
    predictor = load_predictor(args.weights, device="cpu")
    digits = load_digits(resolve_data_dir(args.data_dir), train=False)
    report = {kind: asdict(score(predictor, itertools.islice(iter_samples(kind, args.seed, digits), args.count)))
              for kind in args.kinds}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

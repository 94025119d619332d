"""How well the classifier reads MNIST's test digits redrawn with a pen: the generator its training
digits are redrawn with (`redrawn.pen_redrawn`: 40-200 px, a pen of a fortieth to a sixth of that),
applied to test digits, each framed as the app frames a digit (`views.mnist_view`). The same
digits as MNIST scanned them are read as `python -m mnist_demo evaluate` reads them, for the gap.

The classifier alone, on the digit's own ink: what `benchmarks.numbers` calls reading (its
`alone_accuracy` adds finding the digit on the canvas, and whole numbers).

    MNIST_DATA_DIR=../shared/data python -m benchmarks.pen_redrawn --out benchmarks/results/pen_redrawn.json
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch

from benchmarks.common import environment, write_result
from mnist_demo.constants import NOT_A_DIGIT
from mnist_demo.data import DigitSet, load_digits, normalise, resolve_data_dir, to_unit_float
from mnist_demo.evaluation import reading, run_in_chunks
from mnist_demo.inference import load_predictor
from mnist_demo.redrawn import pen_redrawn

REPORTED_CONFUSIONS = 10


def answers(classifier: torch.nn.Module, digits: DigitSet, threshold: float) -> torch.Tensor:
    """The classifier's digit for each 28x28 image, NOT_A_DIGIT where it refuses it (as
    `evaluate` reads the test set: evaluation.reading)."""
    logits = run_in_chunks(classifier, normalise(to_unit_float(digits.images)), torch.device("cpu"))
    read, refused = reading(logits, threshold)
    return torch.where(refused, NOT_A_DIGIT, read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="test digits redrawn (default: 5000)")
    parser.add_argument("--seed", type=int, default=0, help="which digits, sizes and pens (default: 0)")
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    predictor = load_predictor(args.weights, device="cpu")
    test = load_digits(resolve_data_dir(None), train=False)
    redrawn = pen_redrawn(test, args.count, seed=args.seed)
    read = answers(predictor.classifier, redrawn, predictor.not_a_digit_threshold)
    scanned = answers(predictor.classifier, test, predictor.not_a_digit_threshold)
    right = read == redrawn.labels
    wrong = Counter(f"{int(label)}->{'no digit' if int(answer) == NOT_A_DIGIT else int(answer)}"
                    for label, answer in zip(redrawn.labels[~right], read[~right], strict=True))
    write_result({
        "benchmark": "pen_redrawn", **environment(), "count": len(redrawn), "seed": args.seed,
        "accuracy": round(float(right.float().mean()), 4),
        "refused": round(float((read == NOT_A_DIGIT).float().mean()), 4),
        "per_class": {str(digit): round(float(right[redrawn.labels == digit].float().mean()), 4)
                      for digit in range(10)},
        "most_confused": dict(wrong.most_common(REPORTED_CONFUSIONS)),
        "mnist_test_accuracy": round(float((scanned == test.labels).float().mean()), 4),
    }, args.out)


if __name__ == "__main__":
    main()

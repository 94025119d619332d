"""Command line: `python -m mnist_demo evaluate` (and `predict`, see --help)."""

from __future__ import annotations

import argparse
import json
import sys

from mnist_demo.checkpoints import CheckpointError
from mnist_demo.data import DataUnavailableError, resolve_data_dir
from mnist_demo.devices import pick_device
from mnist_demo.evaluation import evaluate_weights


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mnist_demo", description="The MNIST demo from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="score the committed models on the 10k MNIST test digits (JSON)")
    evaluate.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR, else ./data)")
    evaluate.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    evaluate.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = evaluate_weights(args.weights, resolve_data_dir(args.data_dir), pick_device(args.device))
    except (CheckpointError, DataUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for scores in report.values():
        scores.pop("confusion_matrix", None)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: `python -m mnist_demo predict IMAGE...` and `python -m mnist_demo evaluate`."""

from __future__ import annotations

import argparse
import json
import sys

from mnist_demo.checkpoints import CheckpointError
from mnist_demo.data import DataUnavailableError, resolve_data_dir
from mnist_demo.devices import pick_device
from mnist_demo.evaluation import evaluate_weights
from mnist_demo.inference import load_predictor
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import InputError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mnist_demo", description="The MNIST demo from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="score the committed models on the 10k MNIST test digits (JSON)")
    evaluate.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR, else ./data)")
    evaluate.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    evaluate.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    predict = commands.add_parser("predict", help="read the digit(s) in each image; one JSON object per line")
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, WebP, BMP, GIF)")
    predict.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    predict.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    return parser.parse_args(argv)


def prediction_record(path: str, prediction: Prediction) -> dict:
    """The JSON line printed for one image."""
    return {
        "file": path,
        "label": prediction.label,
        "confidence": round(prediction.confidence, 6),
        "probabilities": list(prediction.probabilities),
        "box": list(prediction.box) if prediction.box else None,
        "metrics": prediction.metrics,
        "number": prediction.number,
        "digits": [{"label": reading.label, "confidence": round(reading.confidence, 6),
                    "probabilities": list(reading.probabilities), "box": list(reading.box),
                    "mask_dice": reading.mask_dice, "mask_iou": reading.mask_iou, "box_iou": reading.box_iou}
                   for reading in prediction.digits],
        **({"message": prediction.message} if prediction.message else {}),
    }


def run_predict(args: argparse.Namespace) -> int:
    """Exit code 1 when any image could not be read; each such line carries an `error`."""
    predictor = load_predictor(args.weights, device=args.device)
    failed = False
    for path in args.images:
        try:
            record = prediction_record(path, predictor.predict(path))
        except (InputError, OSError) as error:
            record, failed = {"file": path, "error": str(error)}, True
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


def run_evaluate(args: argparse.Namespace) -> int:
    report = evaluate_weights(args.weights, resolve_data_dir(args.data_dir), pick_device(args.device))
    for scores in report.values():
        scores.pop("confusion_matrix", None)
    print(json.dumps(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_predict(args) if args.command == "predict" else run_evaluate(args)
    except (CheckpointError, DataUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`python train.py`: train the classifier, U-Net and detector on MNIST and write their checkpoints."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from mnist_demo.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from mnist_demo.data import DataUnavailableError, MnistSplits, data_checksums, load_splits, resolve_data_dir
from mnist_demo.devices import pick_device
from mnist_demo.engine import History, fit
from mnist_demo.report import write_report
from mnist_demo.tasks import TASKS

DRY_RUN_DIGITS = 300
DRY_RUN_BATCHES = 2


def git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=[*TASKS, "all"], default="all", help="which model to train")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: each model's own, see tasks.py)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="auto picks cuda, then mps, then cpu")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR, else ./data)")
    parser.add_argument("--out", default="weights", help="folder for checkpoints and the training report")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"{DRY_RUN_BATCHES} batches per epoch on {DRY_RUN_DIGITS} digits: a smoke test")
    return parser.parse_args(argv)


def shrink(splits: MnistSplits) -> MnistSplits:
    """A few hundred digits of each split, for --dry-run."""
    return MnistSplits(splits.train.subset(DRY_RUN_DIGITS), splits.validation.subset(DRY_RUN_DIGITS),
                       splits.test.subset(DRY_RUN_DIGITS), splits.data_dir)


def train_model(name: str, splits: MnistSplits, args: argparse.Namespace, device: torch.device,
                provenance: dict[str, Any]) -> tuple[History, dict[str, Any]]:
    """Train one model, evaluate it on the test digits and save its checkpoint."""
    task = TASKS[name]
    epochs = args.epochs or (1 if args.dry_run else task.epochs)
    start = time.perf_counter()
    start_from, provenance = None, dict(provenance)
    if task.starts_from:
        start_from, card = load_checkpoint(task.starts_from, Path(args.out), device)
        provenance["started_from"] = {"model": task.starts_from, "weights_sha256": card["weights_sha256"]}
    train, validation = splits.train, splits.validation
    if task.extra_digits is not None:  # a dry run takes a hundredth of them
        extra_train, extra_validation = task.extra_digits(splits, 0.01 if args.dry_run else 1.0)
        train, validation = train.joined(extra_train), validation.joined(extra_validation)
    model, history = fit(task, train, validation, epochs, device, args.seed,
                         max_batches=DRY_RUN_BATCHES if args.dry_run else None, start_from=start_from)
    if task.calibrate is not None:
        model = task.calibrate(model, validation, device)
    seconds = time.perf_counter() - start
    test_metrics = task.evaluate(model, splits.test, device)
    save_checkpoint(name, model, Path(args.out), {
        "validation_metrics": history.validation[history.best_epoch],
        "test_metrics": test_metrics,
        "epochs": epochs,
        "best_epoch": history.best_epoch,
        "epoch_seconds": history.epoch_seconds,
        "training_seconds": round(seconds, 1),
        "train_loss": history.train_loss,
        "hyperparameters": {"batch_size": task.batch_size, "learning_rate": task.learning_rate,
                            "samples_per_epoch": task.samples_per_epoch, "optimizer": "AdamW + OneCycleLR"},
        **task.recorded,
        **provenance,
    })
    headline = {key: value for key, value in test_metrics.items() if isinstance(value, float)}
    print(f"{name}: test {json.dumps({k: round(v, 4) for k, v in headline.items()})}, {seconds:.0f}s", flush=True)
    return history, test_metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = pick_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    try:
        splits = load_splits(resolve_data_dir(args.data_dir))
    except DataUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        splits = shrink(splits)
    provenance = {
        "seed": args.seed,
        "dry_run": args.dry_run,
        "device": str(device),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "git_commit": git_commit(),
        "data_sha256": data_checksums(splits.data_dir),
        "command": "python train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    names = list(TASKS) if args.model == "all" else [args.model]
    start = time.perf_counter()
    try:
        results = {name: train_model(name, splits, args, device, provenance) for name in names}
    except CheckpointError as error:  # the detector starts from a classifier that is not there
        print(f"error: the detector starts from the trained classifier. {error}", file=sys.stderr)
        return 2
    except DataUnavailableError as error:  # the classifier also reads pendigits, beside MNIST
        print(f"error: {error}", file=sys.stderr)
        return 2
    total = time.perf_counter() - start
    write_report(Path(args.out), results, total)
    print(f"trained {', '.join(names)} in {total / 60:.1f} min; checkpoints and report in {args.out}/", flush=True)
    return 0

"""In-process latency of `predictor.predict` and of drawing its overlay, per stage (p50, p90 in ms),
for an 800x800 sketch, a 280x280 sketch and a 4000x3000 photo. One thread (torch's and ONNX
Runtime's), as each of the app's two serving slots has.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.latency --out benchmarks/results/latency.json
    MNIST_DATA_DIR=../shared/data python -m benchmarks.latency --baseline 5488dc3   # new against old

Absolute times hold for one processor only (this machine's speed also drifts by a third within
minutes), so the target is a ratio: with `--baseline REV`, this checkout and a git worktree of
REV (its own code and weights, its own `benchmarks.latency`) take turns, `--rounds` times each in
fresh processes, and the 800x800 sketch's p50 total of this checkout over the baseline's is
reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import environment, percentiles, write_result
from benchmarks.synthetic import as_photo, as_sketchpad, pen_drawing, place
from mnist_demo.data import load_digits, resolve_data_dir
from mnist_demo.inference import load_predictor
from mnist_demo.rendering import display_image, render_overlay

TARGET_RATIO = 1.2  # 800x800 sketch, p50 total: this checkout over the baseline's, measured side by side
REPO_ROOT = Path(__file__).resolve().parent.parent


def inputs(digit: np.ndarray) -> dict[str, Callable[[], object]]:
    """The three inputs, each a zero-argument builder (a Sketchpad value or a decoded photo)."""
    def sketch(side: int) -> dict:
        ink, _ = place(pen_drawing(digit, side // 2, max(3, side // 28)), (side, side), (0.5, 0.5))
        return as_sketchpad(ink)

    def photo() -> object:
        ink, _ = place(pen_drawing(digit, 1500, 60), (3000, 4000), (0.4, 0.5))
        return as_photo(ink, np.random.default_rng(0))

    return {"sketch_800x800": lambda: sketch(800), "sketch_280x280": lambda: sketch(280),
            "photo_4000x3000": photo}


def measure(predictor, images: dict[str, object], runs: int, warmup: int = 3) -> dict[str, dict]:  # noqa: ANN001
    """Per input and stage, p50/p90 in ms. The inputs take turns, run after run (the photo one
    run in ten), so that a slow spell of a shared machine weighs on all of them alike."""
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in images}
    for run in range(warmup + runs):
        for name, image in images.items():
            if name.startswith("photo") and run % 10 and run >= warmup:
                continue
            start = time.perf_counter()
            result = predictor.predict(image)
            predicted = time.perf_counter()
            render_overlay(display_image(image), result)
            finished = time.perf_counter()
            if run < warmup:
                continue
            timings = {**result.timings_ms, "predict": (predicted - start) * 1000,
                       "render_overlay": (finished - predicted) * 1000, "total": (finished - start) * 1000}
            for stage, ms in timings.items():
                stages[name].setdefault(stage, []).append(ms)
    return {name: {stage: percentiles(values) for stage, values in found.items()} for name, found in stages.items()}


def run_in(checkout: Path, runs: int) -> float:
    """The 800x800 sketch's p50 total (ms) from `python -m benchmarks.latency` run in `checkout`."""
    output = subprocess.run([sys.executable, "-m", "benchmarks.latency", "--runs", str(runs)], cwd=checkout,
                            env={**os.environ, "PYTHONPATH": str(checkout),
                                 "MNIST_DATA_DIR": str(resolve_data_dir(None).resolve())},
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["inputs"]["sketch_800x800"]["total"]["p50"]


def side_by_side(baseline: str, rounds: int, runs: int) -> dict[str, object]:
    """This checkout against a git worktree of `baseline`, taking turns `rounds` times."""
    with tempfile.TemporaryDirectory(prefix="mnist-demo-baseline-") as folder:
        worktree = Path(folder) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(worktree), baseline], cwd=REPO_ROOT,
                       check=True)
        try:
            turns = [(run_in(REPO_ROOT, runs), run_in(worktree, runs)) for _ in range(rounds)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO_ROOT, check=True)
    new, old = statistics.median(t[0] for t in turns), statistics.median(t[1] for t in turns)
    return {"baseline": baseline, "rounds": rounds, "runs_per_round": runs,
            "sketch_800x800_total_p50_ms": {"new": [t[0] for t in turns], "baseline": [t[1] for t in turns]},
            "ratio": round(new / old, 3), "target": {"ratio": TARGET_RATIO, "met": new / old <= TARGET_RATIO}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="timed runs per sketch (a tenth of them for the photo)")
    parser.add_argument("--baseline", default=None, help="a git revision to compare with, side by side")
    parser.add_argument("--rounds", type=int, default=5, help="turns each with --baseline (default: 5)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    if args.baseline:
        result = side_by_side(args.baseline, args.rounds, max(10, args.runs // args.rounds))
        write_result({"benchmark": "latency_side_by_side", **environment(), "threads": 1, **result}, args.out)
        return
    torch.set_num_threads(1)
    predictor = load_predictor(device="cpu", threads=1)
    digit = load_digits(resolve_data_dir(None), train=False).images[0].numpy()  # a 7
    results = measure(predictor, {name: build() for name, build in inputs(digit).items()}, args.runs)
    write_result({"benchmark": "latency", **environment(), "threads": 1, "inputs": results}, args.out)


if __name__ == "__main__":
    main()

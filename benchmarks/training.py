"""Training speed: seconds per epoch per model and the total wall time of `python train.py`, read
from a run's report (weights/metrics.json by default), or from a fresh run with --run.

    python -m benchmarks.training --out benchmarks/results/training.json
    MNIST_DATA_DIR=../shared/data python -m benchmarks.training --run /tmp/run   # trains (minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import environment, write_result
from benchmarks.load import REPO_ROOT

TARGET_S = 20 * 60  # issue 14: python train.py <= 20 min on this 2-core CPU


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=REPO_ROOT / "weights", help="a training run's folder")
    parser.add_argument("--run", type=Path, default=None, help="train with the defaults into this folder first")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    folder = args.weights
    if args.run:
        subprocess.run([sys.executable, "train.py", "--out", str(args.run)], cwd=REPO_ROOT, check=True)
        folder = args.run
    report = json.loads((folder / "metrics.json").read_text())
    models = {name: {"epoch_seconds": report[name]["epoch_seconds"], "seconds": report[name]["training_seconds"]}
              for name in ("classifier", "unet", "detector")}
    total = report["total_training_seconds"]
    cards = {name: json.loads((folder / f"{name}.json").read_text()) for name in models}
    write_result({"benchmark": "training", **environment(), "device": cards["classifier"]["device"],
                  "trained_with": cards["classifier"]["command"], "models": models,
                  "total_s": round(total, 1), "target": {"total_s": TARGET_S, "met": total <= TARGET_S}}, args.out)


if __name__ == "__main__":
    main()

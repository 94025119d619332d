"""In-process latency of `predictor.predict` and of drawing its overlay, per stage (p50, p90 in ms),
for an 800x800 sketch, a 280x280 sketch and a 4000x3000 photo. One torch thread, as each of the
app's two serving slots has.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.latency --out benchmarks/results/latency.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.common import environment, percentiles, write_result
from mnist_demo.data import load_digits, resolve_data_dir
from mnist_demo.inference import load_predictor
from mnist_demo.rendering import display_image, render_overlay
from mnist_demo.synthetic import as_photo, as_sketchpad, pen_drawing, place

TARGET_MS = 10.0  # total p50 for the 800x800 sketch


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


def measure(predictor, image: object, runs: int, warmup: int = 3) -> dict[str, dict[str, float]]:  # noqa: ANN001
    stages: dict[str, list[float]] = {}
    for run in range(warmup + runs):
        start = time.perf_counter()
        result = predictor.predict(image)
        predicted = time.perf_counter()
        render_overlay(display_image(image), result)
        finished = time.perf_counter()
        if run < warmup:
            continue
        for name, ms in result.timings_ms.items():
            stages.setdefault(name, []).append(ms)
        stages.setdefault("predict", []).append((predicted - start) * 1000)
        stages.setdefault("render_overlay", []).append((finished - predicted) * 1000)
        stages.setdefault("total", []).append((finished - start) * 1000)
    return {name: percentiles(values) for name, values in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="timed runs per sketch (a tenth of them for the photo)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_predictor(device="cpu")
    digit = load_digits(resolve_data_dir(None), train=False).images[0].numpy()  # a 7
    results = {name: measure(predictor, build(), args.runs if "sketch" in name else max(3, args.runs // 10))
               for name, build in inputs(digit).items()}
    total = results["sketch_800x800"]["total"]["p50"]
    write_result({"benchmark": "latency", **environment(), "torch_threads": 1, "inputs": results,
                  "target": {"sketch_800x800_total_p50_ms": TARGET_MS, "met": total <= TARGET_MS}}, args.out)


if __name__ == "__main__":
    main()

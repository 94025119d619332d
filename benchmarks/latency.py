"""In-process latency of `predictor.predict` and of drawing its overlay, per stage (p50, p90 in ms),
for an 800x800 sketch, a 280x280 sketch and a 4000x3000 photo. One thread (torch's and ONNX
Runtime's), as each of the app's two serving slots has.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="timed runs per sketch (a tenth of them for the photo)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_predictor(device="cpu", threads=1)
    digit = load_digits(resolve_data_dir(None), train=False).images[0].numpy()  # a 7
    results = measure(predictor, {name: build() for name, build in inputs(digit).items()}, args.runs)
    total = results["sketch_800x800"]["total"]["p50"]
    write_result({"benchmark": "latency", **environment(), "threads": 1, "inputs": results,
                  "target": {"sketch_800x800_total_p50_ms": TARGET_MS, "met": total <= TARGET_MS}}, args.out)


if __name__ == "__main__":
    main()

"""Does each post-processing rule still help the committed weights? The predictor reads close
numbers (benchmarks.numbers' close spacing: 600 numbers of 1-6 digits per draw, six draws), drawn
non-digits (benchmarks.not_digits' 500) and photos (benchmarks.synthetic's photo kind, 3,000) with
every rule on, and again with each rule of `postprocess.RULES` turned off in turn
(`PostProcessing.without`). A rule stays while turning it off measurably costs one of these.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.rules --out benchmarks/results/rules.json

The jobs (one input set, one draw, one config) run in parallel, one process per core: about
25 minutes on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

from benchmarks.common import environment, write_result
from benchmarks.not_digits import SEED as NOT_DIGITS_SEED
from benchmarks.not_digits import read_not_digits
from benchmarks.numbers import written_numbers
from benchmarks.robustness import score
from benchmarks.synthetic import as_sketchpad, iter_samples
from mnist_demo.data import DigitSet, load_digits, resolve_data_dir
from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.postprocess import RULES

ALL_ON = "every rule on"
Job = tuple[str, str, int]  # (config: ALL_ON or the rule turned off, input set, seed)

_predictor: Predictor | None = None  # one per worker process, with the digits
_digits: DigitSet | None = None


def _load(weights: str | None) -> None:
    global _predictor, _digits
    torch.set_num_threads(1)  # as every benchmark: one process per core instead
    _predictor = load_predictor(weights, device="cpu")
    _digits = load_digits(resolve_data_dir(None), train=False)


def run(job: Job, count: int) -> float:
    """The share read right (close numbers, photos) or refused (non-digits) of one job."""
    config, inputs, seed = job
    assert _predictor is not None and _digits is not None, "run in a worker started by _load"
    default = _predictor.post_processing
    _predictor.post_processing = default if config == ALL_ON else default.without(config)
    try:
        if inputs == "close_numbers":
            numbers = list(written_numbers(_digits, "close", count, seed))
            right = sum(_predictor.predict(as_sketchpad(number.ink)).number == number.truth for number in numbers)
            return right / len(numbers)
        if inputs == "not_digits_refused":
            return read_not_digits(_predictor, count, seed)[""] / count
        return score(_predictor, itertools.islice(iter_samples("photo", seed, _digits), count)).accuracy
    finally:
        _predictor.post_processing = default


def jobs(configs: list[str], draws: int) -> Iterator[tuple[Job, int]]:
    """Every job with its count: 100 close numbers of each length per draw (seeds 0, 1, ...),
    500 non-digits and 3,000 photos (each at its benchmark's seed)."""
    for config in configs:
        yield from (((config, "close_numbers", seed), 100) for seed in range(draws))
        yield (config, "not_digits_refused", NOT_DIGITS_SEED), 500
        yield (config, "photos", 0), 3000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES),
                        help="the rules to turn off, one at a time (default: all)")
    parser.add_argument("--draws", type=int, default=6, help="draws of 600 close numbers (default: 6)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: one per core)")
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the package's weights/)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    todo, counts = zip(*jobs([ALL_ON, *args.rules], args.draws), strict=True)
    with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(args.weights,)) as pool:
        shares = dict(zip(todo, pool.map(run, todo, counts), strict=True))
    results: dict[str, dict[str, Any]] = {}
    for (config, inputs, _), share in shares.items():
        results.setdefault(config, {}).setdefault(inputs, []).append(share)
    for figures in results.values():
        figures["close_per_draw"] = [round(share, 4) for share in figures["close_numbers"]]
        for inputs in ("close_numbers", "not_digits_refused", "photos"):
            figures[inputs] = round(sum(figures[inputs]) / len(figures[inputs]), 4)
    write_result({"benchmark": "rules", **environment(), "draws": args.draws, "configs": results}, args.out)


if __name__ == "__main__":
    main()

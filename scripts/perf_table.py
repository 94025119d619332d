"""Print the README's performance table from the benchmarks' JSON (benchmarks/results/).

    python -m scripts.perf_table
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def mark(met: bool) -> str:
    return "met" if met else "**not met**"


def measured_on(result: dict) -> str:
    """The processor, the kernels torch ran and the day of one benchmark's figures."""
    return f"{result['machine'].split(', ', 1)[-1]}, {result.get('instruction_set', '?')}, {result['date']}"


def main() -> None:
    latency, http, cold, training = load("latency"), load("http"), load("cold_start"), load("training")
    side_by_side = load("latency_side_by_side")
    rows = []
    for name, stages in latency["inputs"].items():
        parts = ", ".join(f"{stage} {values['p50']:.1f}" for stage, values in stages.items()
                          if stage not in ("total", "predict", "finish"))
        rows.append((f"in-process, {name.replace('_', ' ')}",
                     f"total p50 {stages['total']['p50']:.1f} ms, p90 {stages['total']['p90']:.1f} ms "
                     f"(p50 per stage, ms: {parts})", "", measured_on(latency)))
    new, old = (side_by_side["sketch_800x800_total_p50_ms"][key] for key in ("new", "baseline"))
    rows.append((f"in-process, 800x800 sketch, against {side_by_side['baseline']}",
                 f"p50 {statistics.median(new):.1f} ms against {statistics.median(old):.1f} ms "
                 f"({side_by_side['rounds']} turns each): {side_by_side['ratio']:.2f}x",
                 f"<= {side_by_side['target']['ratio']}x: {mark(side_by_side['target']['met'])}",
                 measured_on(side_by_side)))
    trips = http["round_trip_ms"]
    rows.append(("HTTP round trip, 800x800 PNG", f"app p50 {trips['app']['p50']:.0f} ms, echo floor p50 "
                 f"{trips['echo']['p50']:.0f} ms: {http['p50_ratio']:.2f}x",
                 f"<= {http['target']['p50_ratio']}x: {mark(http['target']['met'])}", measured_on(http)))
    rate = http["throughput"]
    rows.append((f"throughput, {rate['clients']} clients", f"app {rate['app']['requests_per_s']:.1f} req/s "
                 f"(p50 {rate['app']['p50']:.0f} ms), echo {rate['echo']['requests_per_s']:.1f} req/s "
                 f"(p50 {rate['echo']['p50']:.0f} ms); failures {rate['app']['failures']} / "
                 f"{rate['echo']['failures']}", "", measured_on(http)))
    pages = [start["page_s"] for start in cold["starts"]]
    rows.append(("cold start, `python app.py` to the page / to the first /predict",
                 f"{statistics.median(pages):.1f} s / {cold['first_predict_s_median']:.1f} s "
                 f"(median of {len(cold['starts'])})",
                 f"page <= {cold['target']['page_s']:.0f} s: {mark(cold['target']['met'])}", measured_on(cold)))
    epochs = "; ".join(f"{name} {sum(m['epoch_seconds']) / len(m['epoch_seconds']):.0f} s x "
                       f"{len(m['epoch_seconds'])}" for name, m in training["models"].items())
    rows.append(("training, `python train.py`", f"{training['total_s'] / 60:.1f} min ({epochs} per epoch)",
                 f"<= {training['target']['total_s'] / 60:.0f} min: {mark(training['target']['met'])}",
                 measured_on(training)))
    print(f"torch {latency['torch']}, onnxruntime {latency['onnxruntime']}, gradio {latency['gradio']}; "
          "each row says which processor and which of torch's kernels (AVX512 or AVX2) it ran on.\n")
    print("| benchmark | measured | target | measured on |")
    print("|---|---|---|---|")
    for name, measured, target, where in rows:
        print(f"| {name} | {measured} | {target} | {where} |")


if __name__ == "__main__":
    main()

"""Print the README's performance table from the benchmarks' JSON (benchmarks/results/).

    python -m scripts.perf_table
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def mark(met: bool) -> str:
    return "met" if met else "**not met**"


def main() -> None:
    latency, http, cold, training = load("latency"), load("http"), load("cold_start"), load("training")
    rows = []
    for name, stages in latency["inputs"].items():
        parts = ", ".join(f"{stage} {values['p50']:.1f}" for stage, values in stages.items()
                          if stage not in ("total", "predict", "finish"))
        target = (f"<= {latency['target']['sketch_800x800_total_p50_ms']:.0f} ms: "
                  f"{mark(latency['target']['met'])}") if name == "sketch_800x800" else ""
        rows.append((f"in-process, {name.replace('_', ' ')}",
                     f"total p50 {stages['total']['p50']:.1f} ms, p90 {stages['total']['p90']:.1f} ms "
                     f"(p50 per stage, ms: {parts})", target))
    trips = http["round_trip_ms"]
    rows.append(("HTTP round trip, 800x800 PNG", f"app p50 {trips['app']['p50']:.0f} ms, echo floor p50 "
                 f"{trips['echo']['p50']:.0f} ms: {http['p50_ratio']:.2f}x",
                 f"<= {http['target']['p50_ratio']}x: {mark(http['target']['met'])}"))
    rate = http["throughput"]
    rows.append((f"throughput, {rate['clients']} clients", f"app {rate['app']['requests_per_s']:.1f} req/s "
                 f"(p50 {rate['app']['p50']:.0f} ms), echo {rate['echo']['requests_per_s']:.1f} req/s "
                 f"(p50 {rate['echo']['p50']:.0f} ms); failures {rate['app']['failures']} / "
                 f"{rate['echo']['failures']}", ""))
    rows.append(("cold start, `python app.py` to first /predict", f"{cold['first_predict_s_median']:.1f} s "
                 f"(median of {len(cold['starts'])})",
                 f"<= {cold['target']['first_predict_s']:.0f} s: {mark(cold['target']['met'])}"))
    epochs = "; ".join(f"{name} {sum(m['epoch_seconds']) / len(m['epoch_seconds']):.0f} s x "
                       f"{len(m['epoch_seconds'])}" for name, m in training["models"].items())
    rows.append(("training, `python train.py`", f"{training['total_s'] / 60:.1f} min ({epochs} per epoch)",
                 f"<= {training['target']['total_s'] / 60:.0f} min: {mark(training['target']['met'])}"))
    print(f"Measured {latency['date']} on {latency['machine']} (torch {latency['torch']}, "
          f"onnxruntime {latency['onnxruntime']}, gradio {latency['gradio']}).\n")
    print("| benchmark | measured | target |")
    print("|---|---|---|")
    for name, measured, target in rows:
        print(f"| {name} | {measured} | {target} |")


if __name__ == "__main__":
    main()

"""The training report written next to the weights: metrics JSON, learning curves, confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

from mnist_demo.engine import History  # noqa: E402
from mnist_demo.tasks import TASKS  # noqa: E402


def plot_curves(name: str, history: History, path: Path) -> None:
    """Training loss and the validation selection metric per epoch."""
    metric = TASKS[name].selection_metric
    epochs = range(1, len(history.train_loss) + 1)
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    loss_axis.plot(epochs, history.train_loss, marker="o")
    loss_axis.set(title=f"{name}: training loss", xlabel="epoch", ylabel="loss")
    metric_axis.plot(list(history.validation), [scores[metric] for scores in history.validation.values()],
                     marker="o", color="tab:green")
    metric_axis.axvline(history.best_epoch, color="grey", linestyle="--", label=f"best epoch ({history.best_epoch})")
    metric_axis.set(title=f"{name}: validation {metric}", xlabel="epoch", ylabel=metric)
    metric_axis.legend()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion(confusion: list[list[int]], path: Path) -> None:
    """The classifier's test confusion matrix, counts written in the off-diagonal cells that are not zero."""
    figure, axis = plt.subplots(figsize=(5.2, 4.6), constrained_layout=True)
    image = axis.imshow(confusion, cmap="Blues", norm=matplotlib.colors.LogNorm(vmin=1))
    for row, counts in enumerate(confusion):
        for column, count in enumerate(counts):
            if count and row != column:
                axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color="black")
    axis.set(title="classifier: test confusion matrix", xlabel="predicted", ylabel="true",
             xticks=range(10), yticks=range(10))
    figure.colorbar(image, ax=axis, shrink=0.8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_report(out_dir: Path, results: dict[str, tuple[History, dict[str, Any]]], total_seconds: float) -> None:
    """Update `metrics.json` with the models just trained and draw their figures in `report/`."""
    figures = out_dir / "report"
    figures.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    for name, (history, test_metrics) in results.items():
        plot_curves(name, history, figures / f"{name}_curves.png")
        if "confusion_matrix" in test_metrics:
            plot_confusion(test_metrics["confusion_matrix"], figures / "classifier_confusion.png")
        metrics[name] = {
            "test": {key: value for key, value in test_metrics.items() if key != "confusion_matrix"},
            "best_epoch": history.best_epoch,
            "epoch_seconds": history.epoch_seconds,
            "training_seconds": round(sum(history.epoch_seconds), 1),
        }
    if len(results) == len(TASKS):
        metrics["total_training_seconds"] = round(total_seconds, 1)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")

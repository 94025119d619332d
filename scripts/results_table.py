"""Print the README's results table from weights/metrics.json (the training report).

    python -m scripts.results_table
"""

from __future__ import annotations

import json
from pathlib import Path

METRICS = Path(__file__).resolve().parent.parent / "weights" / "metrics.json"

# (model, metric key, what it is, target, seed anchor)
ROWS = [
    ("classifier", "accuracy", "test accuracy (a refused digit counts as wrong)", ">= 99.6%", "96.2-98.2%"),
    ("classifier", "false_rejection", "test digits refused as not a digit", "<= 0.3%", ""),
    ("classifier", "drawn.not_a_digit_rejected", "drawn non-digits refused (letters, symbols, shapes, blobs)",
     ">= 90%", ""),
    ("classifier", "drawn.accuracy", "drawn digits in styles MNIST lacks (continental 1, crossed 7, ...) and printed",
     "", ""),
    ("unet", "dice", "Dice at the picture's resolution, 2,000 test digits enlarged into crisp ink", ">= 0.99", ""),
    ("unet", "dice_photo", "Dice, photos of the same pictures (against the clean ink)", "Otsu + 0.05", ""),
    ("unet", "dice_photo_otsu", "Dice of Otsu thresholding, same photos", "(baseline)", ""),
    ("detector", "accuracy", "class accuracy, one-digit test canvases", ">= 99.0%", "96.24%"),
    ("detector", "mean_iou", "mean box IoU", ">= 0.90", "0.724"),
    ("detector", "ap50", "AP@0.5", "", ""),
    ("detector", "ap75", "AP@0.75", "reported", ""),
    ("detector", "accuracy_corrupted", "class accuracy, corrupted canvases", "", ""),
    ("detector", "mean_iou_corrupted", "mean box IoU, corrupted canvases", "", ""),
]



def main() -> None:
    metrics = json.loads(METRICS.read_text())
    print("| model | metric | measured | target | seed anchor |")
    print("|---|---|---|---|---|")
    for model, key, name, target, anchor in ROWS:
        value = metrics[model]["test"]
        for part in key.split("."):
            value = value[part]
        shown = f"{100 * value:.2f}%" if model == "classifier" or "accuracy" in key else f"{value:.4f}"
        print(f"| {model} | {name} | {shown} | {target} | {anchor} |")
    multidigit = metrics["detector"]["test"]["multidigit"]
    print("\n| canvases | AP@0.5 | AP@0.75 | digits read right | whole number read right |")
    print("|---|---|---|---|---|")
    counts = sorted(key for key in multidigit if key.endswith("_digits"))
    for key in [*counts, None]:
        scores = multidigit[key] if key else multidigit
        name = f"{key.split('_')[0]} digit{'s' if not key.startswith('1_') else ''}" if key else "**all**"
        print(f"| {name} ({scores['canvases']}) | {scores['ap50']:.4f} | {scores['ap75']:.4f} | "
              f"{100 * scores['digit_accuracy']:.2f}% | {100 * scores['number_accuracy']:.2f}% |")
    seconds = {name: metrics[name]["training_seconds"] for name in ("classifier", "unet", "detector")}
    print(f"\nTraining time (`python train.py`, 2-core CPU): {metrics['total_training_seconds'] / 60:.1f} min in all "
          f"(classifier {seconds['classifier']:.0f} s, U-Net {seconds['unet']:.0f} s, "
          f"detector {seconds['detector']:.0f} s).")


if __name__ == "__main__":
    main()

"""`python -m mnist_demo predict`: one JSON line per image, errors reported per file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


def run_predict(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_demo", "predict", *map(str, paths)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_predict_prints_one_json_line_per_image() -> None:
    result = run_predict(EXAMPLES / "drawn_3.png", EXAMPLES / "light_on_dark_5.png")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == [3, 5]
    first = lines[0]
    assert set(first) >= {"file", "label", "confidence", "probabilities", "box", "metrics"}
    assert first["file"].endswith("drawn_3.png")
    assert len(first["probabilities"]) == 10 and abs(sum(first["probabilities"]) - 1) < 1e-3
    x0, y0, x1, y1 = first["box"]
    assert 0 <= x0 < x1 <= 400 and 0 <= y0 < y1 <= 300
    assert set(first["metrics"]) == {"mask_dice", "mask_iou", "box_iou"}


def test_unreadable_file_gets_an_error_field_and_exit_code_one(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture")
    result = run_predict(fake, EXAMPLES / "drawn_3.png")
    assert result.returncode == 1
    broken, good = (json.loads(line) for line in result.stdout.splitlines())
    assert "not an image" in broken["error"] and broken["file"].endswith("notes.png")
    assert good["label"] == 3
    assert "Traceback" not in result.stderr

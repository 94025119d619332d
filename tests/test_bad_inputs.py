"""The bad-input table (benchmarks.hostile, docs/bad-inputs.md) through the predictor and the CLI:
each case gets the right answer or a clear message, never a traceback. The live endpoint's
share is in test_app.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.hostile import CASES, Case
from mnist_demo.inference import Predictor
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("one_thread")


def as_file(case: Case, folder: Path) -> Path | None:
    """The case as a file a user could send: itself, or a Sketchpad value's composite as a PNG.
    None for numpy arrays, which only the Python API takes."""
    source = case.build(folder)
    if isinstance(source, Path):
        return source
    if isinstance(source, dict):
        path = folder / f"{case.name.replace(' ', '_')}.png"
        Image.fromarray(source["composite"]).save(path)
        return path
    return None


def check_prediction(case: Case, result: Prediction) -> None:
    if case.expect == "number":
        assert result.number == case.text, (result.number, result.message)
    else:
        assert case.expect == "none", f"{case.name} should have raised InputError"
        assert result.label is None and result.digits == () and result.number == ""
        assert result.message and case.text in result.message, result.message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_predictor(predictor: Predictor, case: Case, tmp_path: Path) -> None:
    source = case.build(tmp_path)
    if case.expect == "error":
        with pytest.raises(InputError, match=case.text):
            predictor.predict(source)
    else:
        check_prediction(case, predictor.predict(source))
    # and the predictor still reads a normal drawing afterwards
    assert predictor.predict(REPO_ROOT / "examples" / "drawn_3.png").number == "3"


def test_cli_answers_every_file_case_on_its_own_line(tmp_path: Path) -> None:
    files = {case.name: as_file(case, tmp_path) for case in CASES}  # every case names its file apart
    cases = [case for case in CASES if files[case.name] is not None]
    assert len(cases) >= 20
    result = subprocess.run([sys.executable, "-m", "mnist_demo", "predict", *(str(files[c.name]) for c in cases)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1  # some files could not be read
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(cases)
    for case, line in zip(cases, lines, strict=True):
        assert line["file"] == str(files[case.name])
        if case.expect == "error":
            assert case.text in line["error"], (case.name, line)
        elif case.expect == "none":
            assert line["label"] is None and line["number"] == "" and case.text in line["message"], (case.name, line)
        else:
            assert line["number"] == case.text, (case.name, line)


def test_docs_table_lists_every_case() -> None:
    table = (REPO_ROOT / "docs" / "bad-inputs.md").read_text()
    missing = [case.name for case in CASES if f"| {case.name} |" not in table]
    assert not missing, f"docs/bad-inputs.md lacks rows for {missing}"


def test_arrays_larger_than_the_limit_are_refused(predictor: Predictor) -> None:
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.uint8), shape=(10_000, 10_000), strides=(0, 0))
    with pytest.raises(InputError, match="megapixels"):
        predictor.predict(huge)

"""What every benchmark prints with its figures: the machine, the date, the versions; and the
JSON output itself (one object on stdout, optionally saved for the README's tables)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


def environment() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    import gradio
    import onnxruntime

    # The kernels torch picked (AVX512 or AVX2, ATEN_CPU_CAPABILITY can lower it): times differ with it.
    return {"date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} cores, {cpu}",
            "instruction_set": torch.backends.cpu.get_cpu_capability(),
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "gradio": gradio.__version__}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 2),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
            "n": len(ordered)}


def write_result(result: dict[str, Any], out: str | os.PathLike | None) -> None:
    text = json.dumps(result)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1) + "\n")


@contextlib.contextmanager
def scratch_folder() -> Iterator[str]:
    """A temporary folder, removed afterwards, for what a benchmark's app and clients write: the
    app's uploads and outputs (its GRADIO_TEMP_DIR; a server stopped before its cache expires
    leaves them) and what gradio_client downloads (`Client(..., download_files=folder)`: every
    output image, as a browser fetches it). gradio_client 2.7 also leaves an empty folder of its
    own per download in the system temp folder (a load test left thousands); the temp folder
    points here meanwhile, so nothing is left behind."""
    with tempfile.TemporaryDirectory(prefix="mnist-demo-client-") as folder:
        previous, tempfile.tempdir = tempfile.tempdir, folder
        try:
            yield folder
        finally:
            tempfile.tempdir = previous

"""Shared fixtures: where MNIST is, a few real digits from it, the models, and the running app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from benchmarks.load import free_port, start_app
from mnist_demo.checkpoints import WeightsMissingError
from mnist_demo.constants import MNIST_FILES
from mnist_demo.data import DigitSet, load_digits, raw_folder
from mnist_demo.inference import Predictor, load_predictor

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_ENV = "MNIST_DEMO_WEIGHTS"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST folder ($MNIST_DATA_DIR, else ../shared/data); fails under CI when the files are missing."""
    data_dir = Path(os.environ.get("MNIST_DATA_DIR") or REPO_ROOT.parent / "shared" / "data").resolve()
    missing = [name for name in MNIST_FILES if not (raw_folder(data_dir) / name).is_file()]
    if missing:
        message = f"MNIST files missing in {raw_folder(data_dir)}: {', '.join(missing)} (set MNIST_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return data_dir


@pytest.fixture(scope="session")
def sample_digits(mnist_dir: Path) -> DigitSet:
    """The first 64 MNIST test digits."""
    return load_digits(mnist_dir, train=False).subset(64)


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """The three trained models on the CPU, one thread each as the app runs them here, loaded once."""
    try:
        return load_predictor(os.environ.get(WEIGHTS_ENV) or None, device="cpu", threads=1)
    except WeightsMissingError as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(f"{error} (or set {WEIGHTS_ENV})")


@pytest.fixture(scope="session")
def test_digits(mnist_dir: Path) -> DigitSet:
    """All 10k MNIST test digits."""
    return load_digits(mnist_dir, train=False)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py` on a free port, the way people start it; stopped after the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    temp = tmp_path_factory.mktemp("gradio")  # the app's uploads and outputs
    try:
        server = start_app(port, log, env={"MNIST_DEMO_DEVICE": "cpu", "GRADIO_TEMP_DIR": str(temp)})
    except RuntimeError:
        pytest.fail(f"app.py did not start; see {log}")
    yield f"http://127.0.0.1:{port}/"
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Run these tests on one thread: the models are too small to gain from more, and a second
    thread spins idle, 30x slower, whenever another process shares the two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the MNIST files carries the `mnist` marker, so `-m "not mnist"` works."""
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)

"""`train.py --dry-run` end to end, the command-line errors, and the training inputs it is built on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.ops import box_iou

from mnist_demo.augment import RowLayout, app_framing, render_canvases
from mnist_demo.checkpoints import load_checkpoint
from mnist_demo.constants import MNIST_FILES
from mnist_demo.data import DigitSet, ink_boxes, ink_mask, raw_folder, to_unit_float
from mnist_demo.engine import fit
from mnist_demo.tasks import TASKS, UNET_PICTURE_SIDES, CanvasRecipe, classifier_batch, detector_batch_maker, unet_batch

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = ("classifier", "unet", "detector")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(arguments: list[str], cwd: Path, mnist_dir: Path | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    if mnist_dir is not None:
        environment["MNIST_DATA_DIR"] = str(mnist_dir)
    return subprocess.run([sys.executable, *arguments], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def dry_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """One `train.py --dry-run` for the whole module: it is the slow part of the suite."""
    out = tmp_path_factory.mktemp("weights")
    result = run([str(REPO_ROOT / "train.py"), "--dry-run", "--device", "cpu", "--out", str(out)], out, mnist_dir)
    return result, out


class TestDryRun:
    def test_exits_cleanly(self, dry_run: tuple[subprocess.CompletedProcess, Path]) -> None:
        result, out = dry_run
        assert result.returncode == 0, result.stderr[-3000:]
        assert "trained classifier, unet, detector in" in result.stdout
        assert "Traceback" not in result.stderr

    @pytest.mark.parametrize("name", MODELS)
    def test_writes_a_checkpoint_that_loads(self, dry_run: tuple[subprocess.CompletedProcess, Path], name: str) -> None:
        _, out = dry_run
        assert (out / f"{name}.safetensors").is_file() and (out / f"{name}.json").is_file()
        model, card = load_checkpoint(name, out)
        assert card["model"] == name
        assert type(model).__name__.lower() == name

    @pytest.mark.parametrize("name", MODELS)
    def test_card_records_how_the_weights_were_made(self, dry_run: tuple[subprocess.CompletedProcess, Path],
                                                    mnist_dir: Path, name: str) -> None:
        _, out = dry_run
        card = json.loads((out / f"{name}.json").read_text())
        expected_sha256 = {
            file: hashlib.sha256((raw_folder(mnist_dir) / file).read_bytes()).hexdigest() for file in MNIST_FILES
        }
        assert card["seed"] == 0
        assert card["epochs"] == 1 and card["best_epoch"] == 1
        assert card["dry_run"] is True
        assert card["torch_version"] == torch.__version__
        assert card["data_sha256"] == expected_sha256
        assert len(card["epoch_seconds"]) == 1 and card["epoch_seconds"][0] > 0
        assert set(card["test_metrics"]) >= {"classifier": {"accuracy"}, "unet": {"dice", "iou"},
                                             "detector": {"accuracy", "ap50"}}[name]

    def test_writes_the_report(self, dry_run: tuple[subprocess.CompletedProcess, Path]) -> None:
        _, out = dry_run
        metrics = json.loads((out / "metrics.json").read_text())
        assert set(metrics) == {*MODELS, "total_training_seconds"}
        cards = {name: json.loads((out / f"{name}.json").read_text()) for name in MODELS}
        assert all(metrics[name]["test"]["accuracy"] == cards[name]["test_metrics"]["accuracy"]
                   for name in ("classifier", "detector"))  # the report says what the cards say
        assert "confusion_matrix" not in metrics["classifier"]["test"]
        figures = [f"{name}_curves.png" for name in MODELS] + ["classifier_confusion.png"]
        for figure in (out / "report" / name for name in figures):
            assert figure.read_bytes()[:8] == PNG_SIGNATURE, f"{figure.name} is not a PNG"


def test_only_the_last_epochs_are_validated_and_one_of_them_kept(sample_digits: DigitSet) -> None:
    task = dataclasses.replace(TASKS["unet"], batch_size=8, validation_size=16, validate_last=2)
    _, history = fit(task, sample_digits, sample_digits, 4, torch.device("cpu"), seed=0, max_batches=1)
    assert len(history.train_loss) == len(history.epoch_seconds) == 4
    assert list(history.validation) == [3, 4]
    assert history.best_epoch in (3, 4)


def test_train_without_mnist_says_where_to_put_it(tmp_path: Path) -> None:
    empty = tmp_path / "no-mnist-here"
    empty.mkdir()
    result = run([str(REPO_ROOT / "train.py"), "--data-dir", str(empty), "--out", str(tmp_path / "weights")], tmp_path)
    assert result.returncode == 2
    assert str(empty.resolve()) in result.stderr
    assert all(name in result.stderr for name in MNIST_FILES)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "weights").exists()


def test_train_without_pendigits_says_where_to_put_it(mnist_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "mnist-only"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "raw").symlink_to((mnist_dir / "MNIST" / "raw").resolve())
    result = run([str(REPO_ROOT / "train.py"), "--dry-run", "--model", "classifier", "--data-dir", str(data),
                  "--out", str(tmp_path / "weights")], tmp_path)
    assert result.returncode == 2
    assert str(data / "pendigits" / "pendigits.tra") in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_without_weights_says_how_to_train(mnist_dir: Path, tmp_path: Path) -> None:
    result = run(["-m", "mnist_demo", "evaluate", "--weights", str(tmp_path), "--device", "cpu"], REPO_ROOT, mnist_dir)
    assert result.returncode == 2
    assert "python train.py" in result.stderr
    assert str(tmp_path) in result.stderr
    assert "Traceback" not in result.stderr


class TestRenderCanvases:
    def test_one_digit_boxes_are_the_ink_boxes_of_the_canvas(self, sample_digits: DigitSet) -> None:
        canvases = render_canvases(to_unit_float(sample_digits.images), sample_digits.labels, [1] * len(sample_digits),
                                   96, torch.Generator().manual_seed(0))
        assert canvases.images.shape == (len(sample_digits), 1, 96, 96)
        assert torch.equal(torch.cat(canvases.boxes), ink_boxes(ink_mask(canvases.images[:, 0])))
        assert torch.equal(torch.cat(canvases.labels), sample_digits.labels)
        assert torch.equal(canvases.masks, ink_mask(canvases.images[:, 0]))

    def test_several_digits_never_overlap(self, sample_digits: DigitSet) -> None:
        counts = [2] * (len(sample_digits) // 2)  # two digits per canvas are scaled up most, so spread most
        overlapping = []
        for seed in range(5):
            canvases = render_canvases(to_unit_float(sample_digits.images), sample_digits.labels, counts, 96,
                                       torch.Generator().manual_seed(seed))
            for index, boxes in enumerate(canvases.boxes):
                assert len(boxes) == counts[index]
                overlaps = box_iou(boxes, boxes).fill_diagonal_(0)
                if overlaps.max() > 0:
                    overlapping.append((seed, index, boxes.tolist()))
        assert overlapping == []


    def test_numbers_framed_as_the_app_frames_them(self, sample_digits: DigitSet) -> None:
        """Rows of digits on a canvas three heights wide, as large as the app's letterbox shows a
        number's ink (frames.INK_SURROUNDINGS around it): framing each canvas's ink again as the
        app would zooms it by about 1."""
        counts = [4] * (len(sample_digits) // 4)
        canvases = render_canvases(to_unit_float(sample_digits.images), sample_digits.labels, counts, 96,
                                   torch.Generator().manual_seed(0), row_fraction=1.0,
                                   row=RowLayout(framed_as_app=(1.0, 1.0)), canvas_width=288)
        assert canvases.images.shape == (len(counts), 1, 96, 288)
        zooms = []
        for boxes in canvases.boxes:
            x0, y0 = boxes[:, :2].min(dim=0).values.tolist()
            x1, y1 = boxes[:, 2:].max(dim=0).values.tolist()
            assert x0 >= 0 and y0 >= 0 and x1 <= 288 and y1 <= 96
            zooms.append(app_framing((x1 - x0, y1 - y0), (96, 288)))
        assert 0.85 < min(zooms) and max(zooms) < 1.15, zooms


class TestBatchMakers:
    @pytest.mark.parametrize("make_batch", [classifier_batch, unet_batch])
    def test_same_seed_same_batch(self, sample_digits: DigitSet, make_batch) -> None:
        index = torch.arange(16)
        first = make_batch(sample_digits, index, torch.Generator().manual_seed(3))
        again = make_batch(sample_digits, index, torch.Generator().manual_seed(3))
        other = make_batch(sample_digits, index, torch.Generator().manual_seed(4))
        assert first.inputs.shape[:2] == (16, 1)
        assert torch.equal(first.inputs, again.inputs)
        assert torch.equal(*(batch.targets if make_batch is classifier_batch else batch.targets.mask
                             for batch in (first, again)))
        assert first.inputs.shape != other.inputs.shape or not torch.equal(first.inputs, other.inputs), \
            "the augmentation should depend on the seed"

    def test_detector_batches_are_square_or_numbers_as_wide_as_the_app_shows_them(self,
                                                                                 sample_digits: DigitSet) -> None:
        """Square canvases of scattered digits or rows, and canvases 2 or 3 heights wide of numbers,
        each with a heatmap as wide as the canvas and a peak at every digit's centre."""
        make_batch, widths = detector_batch_maker(CanvasRecipe()), set()
        generator = torch.Generator().manual_seed(0)
        for _ in range(12):
            batch = make_batch(sample_digits, torch.randperm(64, generator=generator)[:32], generator)
            canvases, heatmap = batch.inputs, batch.targets.heatmap
            widths.add(canvases.shape[-1])
            assert canvases.shape[-2] == 96 and heatmap.shape[-2:] == (24, canvases.shape[-1] // 4)
            assert int((heatmap == 1).sum()) == len(batch.targets.labels)
        assert widths == {96, 192, 288}

    def test_classifier_targets_are_the_labels(self, sample_digits: DigitSet) -> None:
        index = torch.tensor([5, 0, 9])
        batch = classifier_batch(sample_digits, index, torch.Generator().manual_seed(0))
        assert torch.equal(batch.targets, sample_digits.labels[index])

    def test_unet_pictures_are_clean_ink_and_photos_of_it(self, sample_digits: DigitSet) -> None:
        """The U-Net's pictures: a 64-px copy for the network, and at the picture's resolution the
        ink as the app reads it, with the clean ink's mask as the target; drawings read as their
        mask exactly, photos not."""
        batch = unet_batch(sample_digits, torch.arange(32), torch.Generator().manual_seed(0))
        values, mask = batch.targets.values, batch.targets.mask
        assert batch.inputs.shape == (32, 1, 64, 64) and values.shape == mask.shape
        assert values.shape[-1] in UNET_PICTURE_SIDES
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        assert 0.02 < mask.mean().item() < 0.5, "the mask should cover the strokes, not the picture"
        same = [torch.equal(values[index] > 0, mask[index] > 0) for index in range(32)]
        assert 0 < sum(same) < 32, "some pictures are clean drawings, some photos"

"""Checkpoints rebuild the same model from their two files, and damaged or foreign ones say so."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import torch

from mnist_demo.checkpoints import CheckpointError, WeightsMissingError, load_checkpoint, save_checkpoint
from mnist_demo.models import Classifier, ClassifierConfig, Detector, UNet

INPUT_SIZES = {"classifier": 28, "unet": 28, "detector": 96}


def saved_classifier(weights_dir: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    save_checkpoint("classifier", Classifier(ClassifierConfig(widths=(8, 16, 32))), weights_dir, {"seed": 0})
    return weights_dir / "classifier.safetensors", weights_dir / "classifier.json"


def flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


def edit_card(card_path: Path, edit) -> None:
    card = json.loads(card_path.read_text())
    edit(card)
    card_path.write_text(json.dumps(card))


@pytest.mark.parametrize("name, model_class", [("classifier", Classifier), ("unet", UNet), ("detector", Detector)])
def test_round_trip_gives_the_same_outputs(tmp_path: Path, name: str, model_class: type) -> None:
    torch.manual_seed(0)
    model = model_class()
    with torch.no_grad():  # non-default batch-norm statistics, so that they must be saved too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    model.eval()
    size = INPUT_SIZES[name]
    inputs = torch.rand(2, 1, size, size)
    save_checkpoint(name, model, tmp_path, {"seed": 7, "test_metrics": {"accuracy": 0.5}})

    loaded, card = load_checkpoint(name, tmp_path)

    assert not loaded.training
    assert loaded.config == model.config
    with torch.inference_mode():
        expected, actual = model(inputs), loaded(inputs)
    if name == "detector":
        expected, actual = vars(expected), vars(actual)
        assert all(torch.equal(expected[field], actual[field]) for field in expected)
    else:
        assert torch.equal(expected, actual)
    assert card["model"] == name
    assert card["seed"] == 7
    assert card["test_metrics"] == {"accuracy": 0.5}
    assert card["preprocessing"]["mean"] == 0.1307 and card["preprocessing"]["std"] == 0.3081
    assert card["weights_sha256"] == hashlib.sha256((tmp_path / f"{name}.safetensors").read_bytes()).hexdigest()


def test_card_records_the_config_needed_to_rebuild(tmp_path: Path) -> None:
    _, card_path = saved_classifier(tmp_path)
    card = json.loads(card_path.read_text())
    assert card["config"] == {"widths": [8, 16, 32], "dropout": 0.3, "num_classes": 11, "not_a_digit_threshold": 0.5}
    loaded, _ = load_checkpoint("classifier", tmp_path)
    assert loaded.config == ClassifierConfig(widths=(8, 16, 32))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: flip_byte(data, len(data) // 2), id="one-byte-altered"),
        pytest.param(lambda data: data[: len(data) - 64], id="truncated"),
    ],
)
def test_damaged_weights_fail_the_sha256_check(tmp_path: Path, damage) -> None:
    weights_path, _ = saved_classifier(tmp_path)
    weights_path.write_bytes(damage(weights_path.read_bytes()))
    with pytest.raises(CheckpointError, match="SHA256") as error:
        load_checkpoint("classifier", tmp_path)
    assert str(weights_path) in str(error.value)
    assert "python train.py" in str(error.value)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda card: card["config"].update(depth=3), id="extra-key"),
        pytest.param(lambda card: card["config"].pop("dropout"), id="missing-key"),
    ],
)
def test_config_from_another_version_is_incompatible(tmp_path: Path, edit) -> None:
    _, card_path = saved_classifier(tmp_path)
    edit_card(card_path, edit)
    with pytest.raises(CheckpointError, match="incompatible") as error:
        load_checkpoint("classifier", tmp_path)
    assert str(card_path) in str(error.value)


def test_weights_that_do_not_fit_the_config_raise_a_checkpoint_error(tmp_path: Path) -> None:
    weights_path, card_path = saved_classifier(tmp_path)
    torch.manual_seed(0)
    save_checkpoint("classifier", Classifier(), tmp_path / "other", {})
    weights_path.write_bytes((tmp_path / "other" / "classifier.safetensors").read_bytes())
    edit_card(card_path, lambda card: card.update(weights_sha256=hashlib.sha256(weights_path.read_bytes()).hexdigest()))

    with pytest.raises(CheckpointError, match=re.escape(f"{weights_path} does not fit the classifier")) as error:
        load_checkpoint("classifier", tmp_path)
    assert "python train.py" in str(error.value)


def test_missing_files_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match=re.escape("python train.py")) as error:
        load_checkpoint("unet", tmp_path)
    assert str(tmp_path / "unet.safetensors") in str(error.value)
    assert str(tmp_path / "unet.json") in str(error.value)


def test_a_missing_card_is_reported_even_when_the_weights_exist(tmp_path: Path) -> None:
    _, card_path = saved_classifier(tmp_path)
    card_path.unlink()
    with pytest.raises(WeightsMissingError, match=re.escape(str(card_path))):
        load_checkpoint("classifier", tmp_path)

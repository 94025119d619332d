"""Self-describing checkpoints: `<name>.safetensors` (weights, never a pickle) plus `<name>.json`
(config to rebuild the model, preprocessing constants, metrics, provenance, weights SHA256)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mnist_demo import constants
from mnist_demo.models import MODEL_CLASSES

FORMAT_VERSION = 1
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged or from an incompatible version; the message says which file."""


class WeightsMissingError(CheckpointError):
    """No checkpoint where one was expected."""


def preprocessing_constants() -> dict[str, Any]:
    """The constants a model's inputs were prepared with, recorded beside its weights."""
    return {
        "image_size": constants.IMAGE_SIZE,
        "digit_box_size": constants.DIGIT_BOX_SIZE,
        "mean": constants.MNIST_MEAN,
        "std": constants.MNIST_STD,
        "ink_threshold_uint8": constants.INK_THRESHOLD_UINT8,
        "canvas_size": constants.CANVAS_SIZE,
    }


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def paths_for(name: str, weights_dir: Path) -> tuple[Path, Path]:
    return weights_dir / f"{name}.safetensors", weights_dir / f"{name}.json"


def save_checkpoint(name: str, model: nn.Module, weights_dir: Path, metadata: dict[str, Any]) -> Path:
    """Write the weights and their JSON card; returns the JSON path."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    weights_path, card_path = paths_for(name, weights_dir)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(weights_path), metadata={"model": name, "format_version": str(FORMAT_VERSION)})
    card = {
        "format_version": FORMAT_VERSION,
        "model": name,
        "config": dataclasses.asdict(model.config),
        "preprocessing": preprocessing_constants(),
        **metadata,
        "weights_file": weights_path.name,
        "weights_sha256": sha256_of(weights_path),
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path


def read_card(name: str, weights_dir: Path) -> dict[str, Any]:
    """The JSON card of one checkpoint, checked for presence and format."""
    weights_path, card_path = paths_for(name, weights_dir)
    missing = [str(path) for path in (weights_path, card_path) if not path.exists()]
    if missing:
        raise WeightsMissingError(
            f"No trained {name} in {weights_dir} (missing {', '.join(missing)}). "
            "Make the weights with `python train.py` (or `make train`)."
        )
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{card_path} is not valid JSON ({error}); retrain with `python train.py`.") from None
    if card.get("format_version") != FORMAT_VERSION or card.get("model") != name:
        raise CheckpointError(
            f"{card_path} is a checkpoint of format {card.get('format_version')!r} for model "
            f"{card.get('model')!r}; this version reads format {FORMAT_VERSION} for {name!r}. "
            "Retrain with `python train.py`."
        )
    return card


def _config_from(name: str, card: dict[str, Any], card_path: Path) -> Any:
    config_class = MODEL_CLASSES[name][1]
    fields = {field.name for field in dataclasses.fields(config_class)}
    given = card.get("config", {})
    if set(given) != fields:
        raise CheckpointError(
            f"{card_path} describes a {name} with config keys {sorted(given)}, but this version "
            f"expects {sorted(fields)}: the weights are from an incompatible version. Retrain with `python train.py`."
        )
    return config_class(**{key: tuple(value) if isinstance(value, list) else value for key, value in given.items()})


def load_checkpoint(
    name: str, weights_dir: Path | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from its two files alone, after checking the weights' SHA256; eval mode."""
    weights_dir = Path(weights_dir) if weights_dir is not None else DEFAULT_WEIGHTS_DIR
    card = read_card(name, weights_dir)
    weights_path, card_path = paths_for(name, weights_dir)
    if sha256_of(weights_path) != card.get("weights_sha256"):
        raise CheckpointError(
            f"{weights_path} does not match the SHA256 recorded in {card_path.name}: the file is "
            "truncated or altered. Restore it (git checkout weights/) or retrain with `python train.py`."
        )
    config = _config_from(name, card, card_path)
    model_class = MODEL_CLASSES[name][0]
    try:
        model = model_class(config)
        model.load_state_dict(load_file(str(weights_path)), strict=True)
    except (SafetensorError, RuntimeError, TypeError, ValueError) as error:
        # PyTorch's first line only names the model; the second says which tensor does not fit.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0] if lines else type(error).__name__
        raise CheckpointError(
            f"{weights_path} does not fit the {name} its card describes ({detail}): the weights are from an "
            "incompatible version. Retrain with `python train.py`."
        ) from None
    return model.to(device).eval(), card

"""The training loop shared by the three models: one epoch, validation, best-epoch selection."""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from mnist_demo.data import DigitSet
from mnist_demo.devices import autocast_for
from mnist_demo.tasks import Batch, Task


def to_device(value: Any, device: torch.device) -> Any:
    """Move a tensor, or every tensor field of a dataclass, to `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, list):
        return [to_device(item, device) for item in value]
    if dataclasses.is_dataclass(value):
        return type(value)(**{f.name: to_device(getattr(value, f.name), device) for f in dataclasses.fields(value)})
    return value


@dataclass
class History:
    """Per-epoch record of one training run."""

    train_loss: list[float] = field(default_factory=list)
    validation: dict[int, dict[str, Any]] = field(default_factory=dict)  # by epoch, those validated
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0


def train_one_epoch(model: nn.Module, task: Task, digits: DigitSet, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler,
                    batches: list[torch.Tensor], generator: torch.Generator, device: torch.device,
                    description: str, average: AveragedModel | None = None) -> float:
    """One pass over `batches` of indices, updating `average` (if any) after every step; returns
    the mean loss."""
    model.train()
    total, progress = 0.0, tqdm(batches, desc=description, leave=False, dynamic_ncols=True)
    for step, index in enumerate(progress, start=1):
        batch: Batch = to_device(task.make_batch(digits, index, generator), device)
        inputs = batch.inputs.contiguous(memory_format=torch.channels_last)
        with autocast_for(device):
            loss = task.loss(model, Batch(inputs, batch.targets))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if average is not None:
            average.update_parameters(model)
        total += loss.item()
        progress.set_postfix(loss=f"{total / step:.4f}")
    return total / max(len(batches), 1)


def fit(task: Task, train: DigitSet, validation: DigitSet, epochs: int, device: torch.device,
        seed: int, max_batches: int | None = None, start_from: nn.Module | None = None) -> tuple[nn.Module, History]:
    """Train `task`'s model and return it with the weights of its best validation epoch (of the
    last `task.validate_last` epochs, when set).

    `start_from`: a trained model whose weights the new one starts from where they fit (see
    `Task.build`)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = task.build(start_from).to(device).to(memory_format=torch.channels_last)
    samples = task.samples_per_epoch or len(train)
    steps = samples // task.batch_size if max_batches is None else max_batches
    optimizer = torch.optim.AdamW(model.parameters(), lr=task.learning_rate, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, task.learning_rate, total_steps=max(epochs * steps, 1))
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    # the exponential moving average of the weights (and batch-norm statistics) is what is validated and kept
    average = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(task.ema_decay), use_buffers=True)
               if task.ema_decay else None)
    kept = model if average is None else average.module
    history, best_score, best_state = History(), float("-inf"), None
    if task.validation_size is not None:
        validation = validation.subset(task.validation_size)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.cat([torch.randperm(len(train), generator=generator)
                           for _ in range(-(-steps * task.batch_size // len(train)))])
        batches = list(torch.split(order[: steps * task.batch_size], task.batch_size))
        loss = train_one_epoch(model, task, train, optimizer, scheduler, scaler, batches, generator, device,
                               f"{task.name} {epoch}/{epochs}", average)
        history.train_loss.append(loss)
        line = f"{task.name} epoch {epoch}/{epochs}: loss {loss:.4f}"
        if task.validate_last is None or epoch > epochs - task.validate_last:
            kept.eval()
            scores = history.validation[epoch] = task.validate(kept, validation, device)
            score = scores[task.selection_metric]
            if score >= best_score:  # on a tie the later epoch, further down the learning-rate schedule
                best_score, best_state, history.best_epoch = score, copy.deepcopy(kept.state_dict()), epoch
            best = " (best)" if history.best_epoch == epoch else ""
            line += f", validation {task.selection_metric} {score:.4f}{best}"
        history.epoch_seconds.append(round(time.perf_counter() - start, 1))
        tqdm.write(f"{line}, {history.epoch_seconds[-1]:.0f}s")
    model.load_state_dict(best_state)
    return model.eval(), history

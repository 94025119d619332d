"""What differs between the three trainings: how a batch is made, the loss, the selection metric."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from mnist_demo.augment import RowLayout, corrupt, random_affine, random_stroke_width, render_canvases, uniform
from mnist_demo.constants import CANVAS_SIZE, DETECTOR_STRIDE
from mnist_demo.data import DigitSet, MnistSplits, ink_mask, normalise, quantise, to_unit_float
from mnist_demo.detection import detector_loss, make_targets
from mnist_demo.drawn import TRAINING_SEED, VALIDATION_SEED, drawn_set
from mnist_demo.evaluation import EVALUATORS, choose_not_a_digit_threshold
from mnist_demo.models import MODEL_CLASSES
from mnist_demo.pendigits import mnist_aspects, pendigit_views, read_pendigits
from mnist_demo.pictures import enlarged_digits, photographed
from mnist_demo.postprocess import POST_PROCESSING
from mnist_demo.preprocessing import to_ink
from mnist_demo.redrawn import pen_redrawn, pen_redrawn_in_rows
from mnist_demo.segmentation import grid_view, soft_ink_logits, thresholds_on_picture


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor
    targets: Any


def classifier_batch(digits: DigitSet, index: torch.Tensor, generator: torch.Generator) -> Batch:
    """Milder jitter than the other models get: preprocessing already brings drawings to MNIST's
    size, centre and stroke width, so the classifier only needs to absorb what is left. (Its
    digits include the drawn ones, `DrawnInputs`, already framed by the app's own preprocessing.)"""
    images = random_affine(to_unit_float(digits.images[index]), generator, max_rotation=10.0, scale=(0.9, 1.1),
                           max_shear=0.15, max_shift=0.06)
    images = quantise(random_stroke_width(images, generator, strength=0.5))
    return Batch(normalise(images), digits.labels[index])


def classifier_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(model(batch.inputs).float(), batch.targets, label_smoothing=0.05)


@dataclass(frozen=True)
class PictureTargets:
    """What the U-Net's threshold map is scored on, at the picture's own resolution."""

    values: torch.Tensor  # (B, 1, S, S) the ink as the app reads it (preprocessing.to_ink), 0..1
    mask: torch.Tensor  # (B, 1, S, S) float 0/1, the ink rule on the clean picture


# The U-Net's training pictures are squares of one of these sides per batch: its 64-px copy is the
# picture itself or up to 4x smaller (the app's copies of 800-px drawings are up to 5x smaller).
UNET_PICTURE_SIDES = (64, 96, 128, 192, 256)
# Half of them are photographed (pictures.photographed), the rest stay clean drawings.
UNET_PHOTO_FRACTION = 0.5


def unet_batch(digits: DigitSet, index: torch.Tensor, generator: torch.Generator) -> Batch:
    """MNIST digits enlarged into crisp ink at the picture's resolution, half of them photographed
    and read back as the app reads photos; the U-Net sees its small copy, the loss the pictures."""
    side = UNET_PICTURE_SIDES[int(torch.randint(len(UNET_PICTURE_SIDES), (1,), generator=generator))]
    clean = quantise(enlarged_digits(to_unit_float(digits.images[index]), side, generator))
    photo = torch.rand(len(index), generator=generator) < UNET_PHOTO_FRACTION
    values = clean.clone()
    if photo.any():
        read = [torch.from_numpy(to_ink(picture).values) for picture in photographed(clean[photo], generator)]
        values[photo] = torch.stack(read)[:, None]
    return Batch(grid_view(values), PictureTargets(values, ink_mask(clean).float()))


def unet_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice of the soft comparison of the picture's ink with the
    U-Net's enlarged threshold map, against the clean ink, pixel by pixel of the picture."""
    values, truth = batch.targets.values, batch.targets.mask
    thresholds = thresholds_on_picture(model(batch.inputs), *values.shape[-2:])
    logits = soft_ink_logits(values, thresholds)
    probability = torch.sigmoid(logits)
    overlap = (probability * truth).sum(dim=(1, 2, 3))
    soft_dice = 1 - (2 * overlap + 1) / (probability.sum(dim=(1, 2, 3)) + truth.sum(dim=(1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, truth) + soft_dice.mean()


@dataclass(frozen=True)
class CanvasRecipe:
    canvas_size: int = CANVAS_SIZE
    stride: int = DETECTOR_STRIDE
    single_digit_fraction: float = 0.5
    max_digits: int = 6
    # of the canvases of several digits, this share has them written in a row, close or touching
    # (augment.RowLayout), as people write numbers; the others scatter them apart
    row_fraction: float = 0.5
    # This share of the batches are numbers as the app shows them: every canvas a row of 2 to
    # max_digits digits, framed as the app frames a number's ink (as tall as the canvas allows,
    # on a canvas 2 or 3 times wider than high, views.letterbox), then up to a quarter smaller.
    number_fraction: float = 0.4
    number_widths: tuple[int, ...] = (2, 3)  # in canvas heights, one per batch
    number_row: RowLayout = RowLayout(gap=(-0.15, 0.35), height_spread=0.2, framed_as_app=(0.75, 1.0))


def detector_batch_maker(recipe: CanvasRecipe) -> Callable[[DigitSet, torch.Tensor, torch.Generator], Batch]:
    """Canvases of 1..max_digits training digits; several per canvas teach the head to return several boxes."""

    def detector_batch(digits: DigitSet, index: torch.Tensor, generator: torch.Generator) -> Batch:
        numbers = torch.rand(1, generator=generator).item() < recipe.number_fraction
        aspect = recipe.number_widths[int(torch.randint(len(recipe.number_widths), (1,), generator=generator))]
        width = recipe.canvas_size * (aspect if numbers else 1)
        single = torch.rand(len(index), generator=generator) < (0.0 if numbers else recipe.single_digit_fraction)
        extra = uniform(len(index), 2, recipe.max_digits + 1, generator).long()
        counts = torch.where(single, 1, extra)
        counts = counts[: int((counts.cumsum(0) <= len(index)).sum())]  # the digits of this batch suffice
        used = int(counts.sum())
        # MNIST's digits as they are, placed at random scales and positions: no geometry or
        # stroke-width jitter, because resampling a digit adds a faint halo that the ink rule (> 0)
        # counts but a 28x28 read of a large digit cannot see; boxes learnt on jittered digits
        # came out 2-3% too wide on each side on MNIST's own (mean IoU 0.871 and 0.895 against 0.90).
        source = to_unit_float(digits.images[index[:used]])
        layout = ({"row_fraction": 1.0, "row": recipe.number_row, "canvas_width": width} if numbers
                  else {"row_fraction": recipe.row_fraction})
        canvases = render_canvases(source, digits.labels[index[:used]], counts.tolist(), recipe.canvas_size, generator,
                                   **layout)
        targets = make_targets(canvases.boxes, canvases.labels,
                               (recipe.canvas_size // recipe.stride, width // recipe.stride), recipe.stride, generator)
        return Batch(normalise(quantise(corrupt(canvases.images, generator))), targets)

    return detector_batch


# Pen-drawn inputs that join MNIST's digits for the classifier (drawn.py): things that are not
# digits and digits in styles MNIST lacks, for training and for validation; and pendigits' training
# lines, real writers' digits drawn as on the app's canvas (pendigits.py); and MNIST's training digits
# redrawn with a pen, fine to marker-thick, alone (redrawn.pen_redrawn) and written close in rows, framed
# as the app frames the digits of a number, neighbours' stroke ends and all (redrawn.pen_redrawn_in_rows).
DRAWN_TRAINING = (12_000, 6_000)
DRAWN_VALIDATION = (1_500, 1_000)
PENDIGITS_SEEDS = (0, 1)  # each training line drawn this many times, at other sizes, aspects and pens
PEN_REDRAWN = 4_000  # 15,000 alone cost MNIST 0.1 point (99.58%) in a classifier-only run
PEN_REDRAWN_IN_ROWS = 5_001  # 1,667 rows of three (redrawn.ROW_LENGTH)


def classifier_extras(splits: MnistSplits, scale: float) -> tuple[DigitSet, DigitSet]:
    """The digits (and non-digits) that join MNIST's for the classifier: (training, validation);
    `scale` < 1 for a dry run."""
    sized = [round(count * scale) for count in (*DRAWN_TRAINING, *DRAWN_VALIDATION)]
    pen_written = read_pendigits(splits.data_dir).part(held_out=False)
    pen_written = pen_written.first(round(len(pen_written) * scale))
    training, aspects = drawn_set(*sized[:2], seed=TRAINING_SEED), mnist_aspects(splits.train)
    for seed in PENDIGITS_SEEDS:
        training = training.joined(pendigit_views(pen_written, aspects, seed))
    training = training.joined(pen_redrawn(splits.train, round(PEN_REDRAWN * scale), seed=TRAINING_SEED))
    # other digits than the ones redrawn alone: a seed of its own
    training = training.joined(pen_redrawn_in_rows(splits.train, round(PEN_REDRAWN_IN_ROWS * scale),
                                                   seed=TRAINING_SEED + 100))
    return training, drawn_set(*sized[2:], seed=VALIDATION_SEED)


@dataclass(frozen=True)
class Task:
    """A model to train: its name, batch maker, loss, evaluator and selection metric."""

    name: str
    make_batch: Callable[[DigitSet, torch.Tensor, torch.Generator], Batch]
    loss: Callable[[nn.Module, Batch], torch.Tensor]
    selection_metric: str
    epochs: int
    batch_size: int
    learning_rate: float
    samples_per_epoch: int | None = None  # None: one pass over the training digits
    validation_size: int | None = None  # None: all held-out digits
    validation_options: dict[str, Any] = field(default_factory=dict)  # passed to the evaluator per epoch
    # None: validate every epoch. A number: only the last this many epochs are validated (and can be
    # kept): the average of the weights is not settled before, and validation takes seconds an epoch.
    validate_last: int | None = None
    starts_from: str | None = None  # a model trained before this one whose weights it starts from
    # digits added to MNIST's for training and validation, given the splits and a scale (< 1: dry run)
    extra_digits: Callable[[MnistSplits, float], tuple[DigitSet, DigitSet]] | None = None
    # sets what is chosen after training on the validation digits (the classifier's rejection threshold)
    calibrate: Callable[[nn.Module, DigitSet, torch.device], nn.Module] | None = None
    # when set, the weights kept are an exponential moving average of the trained ones, with this decay per step
    ema_decay: float | None = None
    # settings recorded on the model's card beside its weights, for whoever serves it
    recorded: dict[str, Any] = field(default_factory=dict)

    def build(self, start_from: nn.Module | None = None) -> nn.Module:
        model_class, config_class = MODEL_CLASSES[self.name]
        model = model_class(config_class())
        if start_from is not None:
            model.start_from(start_from)
        return model

    def evaluate(self, model: nn.Module, digits: DigitSet, device: torch.device) -> dict[str, Any]:
        return EVALUATORS[self.name](model, digits, device)

    def validate(self, model: nn.Module, digits: DigitSet, device: torch.device) -> dict[str, Any]:
        return EVALUATORS[self.name](model, digits, device, **self.validation_options)


def _detector_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    return detector_loss(model, batch.inputs, batch.targets)


TASKS: dict[str, Task] = {
    "classifier": Task("classifier", classifier_batch, classifier_loss, "accuracy",
                       epochs=18, batch_size=256, learning_rate=3e-3, samples_per_epoch=88_064, validate_last=4,
                       extra_digits=classifier_extras, validation_options={"with_drawn": False},
                       calibrate=choose_not_a_digit_threshold, ema_decay=0.999),
    "unet": Task("unet", unet_batch, unet_loss, "dice_photo",
                 epochs=1, batch_size=64, learning_rate=3e-3, samples_per_epoch=6_400, validation_size=500),
    "detector": Task("detector", detector_batch_maker(CanvasRecipe()), _detector_loss, "accuracy",
                     epochs=10, batch_size=128, learning_rate=3e-3, samples_per_epoch=32_000,
                     validation_size=1_000, validation_options={"with_corrupted": False}, validate_last=3,
                     starts_from="classifier", recorded={"post_processing": dataclasses.asdict(POST_PROCESSING)}),
}

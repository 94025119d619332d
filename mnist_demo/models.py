"""The three networks: a digit classifier, a U-Net for the ink mask and a CenterNet-style detector.

Only `nn.Module`s and their config dataclasses live here; each config is all a checkpoint
needs to rebuild its model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import roi_align

from mnist_demo.constants import (
    CANVAS_SIZE,
    DETECTOR_STRIDE,
    DIGIT_BOX_SIZE,
    IMAGE_SIZE,
    MNIST_MEAN,
    MNIST_STD,
    NOT_A_DIGIT,
    NUM_CLASSES,
)


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the building block of all three models."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UniformDropout(nn.Module):
    """`nn.Dropout`, its mask drawn as uniform numbers at least `p` rather than as Bernoulli trials:
    on a CPU torch's Bernoulli draw is slow (12.6 ms for the classifier's (256, 6272) features
    against 3.8 ms; forward and backward take 6.7 ms against 14.1 ms, of a ~107 ms training step).
    Under bfloat16 autocast the uniform numbers are bfloat16 too, so `p` holds to within 2^-9."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * ((torch.rand_like(x) >= self.p) * (1 / (1 - self.p)))


@dataclass(frozen=True)
class ClassifierConfig:
    widths: tuple[int, int, int] = (32, 64, 128)
    dropout: float = 0.3
    num_classes: int = NUM_CLASSES + 1  # the ten digits, then NOT_A_DIGIT
    # An input whose NOT_A_DIGIT probability reaches this is not read as a digit; chosen after
    # training on the validation set (training.choose_not_a_digit_threshold) and saved with the weights.
    not_a_digit_threshold: float = 0.5


def digit_features(widths: tuple[int, int, int]) -> nn.Sequential:
    """(B, 1, 28, 28) -> (B, w3 * 7 * 7): two conv pairs with pooling, one more stage, flattened.

    Flattened rather than globally pooled: where a stroke is in the frame matters for digits.
    """
    w1, w2, w3 = widths
    return nn.Sequential(
        conv_bn_relu(1, w1), conv_bn_relu(w1, w1), nn.MaxPool2d(2),  # (B, w1, 14, 14)
        conv_bn_relu(w1, w2), conv_bn_relu(w2, w2), nn.MaxPool2d(2),  # (B, w2, 7, 7)
        conv_bn_relu(w2, w3), nn.Flatten(),  # (B, w3 * 49)
    )


class Classifier(nn.Module):
    """28x28 normalised digit -> class logits."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        super().__init__()
        self.config = config
        self.features = digit_features(config.widths)
        self.head = nn.Sequential(UniformDropout(config.dropout), nn.Linear(config.widths[2] * 49, config.num_classes))

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> (B, num_classes) logits."""
        return self.head(self.features(digits))


@dataclass(frozen=True)
class UNetConfig:
    widths: tuple[int, int, int] = (8, 16, 32)
    # The ground truth counts every pixel > 0, and MNIST's anti-aliased edges are very faint:
    # a second input channel, the image raised to this power, makes them as visible as the strokes.
    faint_ink_gamma: float = 0.25


class UNet(nn.Module):
    """Encoder-decoder with skip connections: (B, 1, H, W) -> (B, 1, H, W) ink-mask logits.

    H and W must be divisible by 4 (28 is).
    """

    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        self.encoder1 = nn.Sequential(conv_bn_relu(2, w1), conv_bn_relu(w1, w1))
        self.encoder2 = nn.Sequential(conv_bn_relu(w1, w2), conv_bn_relu(w2, w2))
        self.bottleneck = nn.Sequential(conv_bn_relu(w2, w3), conv_bn_relu(w3, w3))
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.decoder2 = nn.Sequential(conv_bn_relu(2 * w2, w2), conv_bn_relu(w2, w2))
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.decoder1 = nn.Sequential(conv_bn_relu(2 * w1, w1), conv_bn_relu(w1, w1))
        self.out = nn.Conv2d(w1, 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) MNIST-normalised images -> (B, 1, H, W) ink logits."""
        if images.shape[-1] % 4 or images.shape[-2] % 4:
            raise ValueError(f"UNet needs height and width divisible by 4, got {tuple(images.shape[-2:])}")
        intensity = (images * MNIST_STD + MNIST_MEAN).clamp(0, 1)
        faint_ink = 2 * intensity.pow(self.config.faint_ink_gamma) - 1
        skip_full = self.encoder1(torch.cat([images, faint_ink], dim=1))  # (B, w1, H, W)
        skip_half = self.encoder2(F.max_pool2d(skip_full, 2))  # (B, w2, H/2, W/2)
        x = self.bottleneck(F.max_pool2d(skip_half, 2))  # (B, w3, H/4, W/4)
        x = self.decoder2(torch.cat([self.up2(x), skip_half], dim=1))  # (B, w2, H/2, W/2)
        x = self.decoder1(torch.cat([self.up1(x), skip_full], dim=1))  # (B, w1, H, W)
        return self.out(x)


@dataclass(frozen=True)
class DetectorConfig:
    canvas_size: int = CANVAS_SIZE
    stride: int = DETECTOR_STRIDE
    widths: tuple[int, int, int, int] = (16, 32, 64, 64)
    roi_widths: tuple[int, int, int] = (32, 64, 128)
    num_classes: int = NUM_CLASSES


@dataclass(frozen=True)
class DetectorOutput:
    """Dense predictions on the (canvas_size / stride) grid; boxes are decoded in `detection.py`."""

    centre_logits: torch.Tensor  # (B, 1, G, G): is a digit centred in this cell?
    box_size: torch.Tensor  # (B, 2, G, G): width and height in grid cells
    centre_offset: torch.Tensor  # (B, 2, G, G): sub-cell position of the centre, 0..1


def digit_frames(boxes: torch.Tensor) -> torch.Tensor:
    """(K, 4) ink boxes -> the square boxes that frame them as MNIST does (longest side 20 of 28)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).amax(dim=1, keepdim=True) * IMAGE_SIZE / DIGIT_BOX_SIZE / 2
    return torch.cat([centre - half, centre + half], dim=1)


class Detector(nn.Module):
    """Two stages: CenterNet-style proposals (one heatmap peak and box per digit, so one head
    returns one box or several) from a small backbone and feature pyramid read out at 1/4; then
    each box is cut out of the canvas with RoIAlign, framed like an MNIST digit, and classified.

    The second stage is what makes the class accurate at every scale: a dense class head has to
    recognise a digit 14 px tall and one 86 px tall with the same filters.
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        if config.stride != 4:
            raise ValueError(f"Detector is built for stride 4, got {config.stride}")
        if config.canvas_size % 16:
            raise ValueError(f"canvas_size must be divisible by 16, got {config.canvas_size}")
        self.config = config
        w1, w2, w3, w4 = config.widths
        self.stem = nn.Sequential(conv_bn_relu(1, w1, stride=2), conv_bn_relu(w1, w2, stride=2))  # 1/4
        self.stage8 = nn.Sequential(conv_bn_relu(w2, w3, stride=2), conv_bn_relu(w3, w3))  # 1/8
        self.stage16 = nn.Sequential(conv_bn_relu(w3, w4, stride=2), conv_bn_relu(w4, w4))  # 1/16
        self.lateral8 = nn.Conv2d(w3, w4, 1)
        self.lateral4 = nn.Conv2d(w2, w4, 1)
        self.fuse = conv_bn_relu(w4, w3)
        self.centre_head = nn.Conv2d(w3, 1, 1)
        self.box_head = nn.Conv2d(w3, 4, 1)
        self.roi_features = digit_features(config.roi_widths)
        self.roi_class_head = nn.Linear(config.roi_widths[2] * 49, config.num_classes)
        # where the ink box sits in its frame: centre shift and size, as fractions of the frame's side
        self.roi_box_head = nn.Linear(config.roi_widths[2] * 49, 4)
        # CenterNet's prior: start with every cell "probably empty" so the focal loss is stable.
        nn.init.constant_(self.centre_head.bias, -2.19)

    def forward(self, canvases: torch.Tensor) -> DetectorOutput:
        """(B, 1, S, S) white-on-black canvases -> dense predictions on an (S/4, S/4) grid."""
        quarter = self.stem(canvases)  # (B, w2, S/4, S/4)
        eighth = self.stage8(quarter)  # (B, w3, S/8, S/8)
        sixteenth = self.stage16(eighth)  # (B, w4, S/16, S/16)
        x = self.lateral8(eighth) + F.interpolate(sixteenth, scale_factor=2, mode="nearest")
        x = self.lateral4(quarter) + F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.fuse(x)  # (B, w3, S/4, S/4)
        box = self.box_head(x)
        return DetectorOutput(
            centre_logits=self.centre_head(x),
            box_size=F.softplus(box[:, :2]),
            centre_offset=torch.sigmoid(box[:, 2:]),
        )

    def start_from(self, classifier: Classifier) -> None:
        """Start the second stage from a trained classifier: it reads the same MNIST-framed 28x28
        digits, so the detector only has to learn its crops and corruptions, not digits anew.
        (Only the digits' rows of its head: the detector's boxes hold digits, never NOT_A_DIGIT.)"""
        self.roi_features.load_state_dict(classifier.features.state_dict())
        head = classifier.head[1]
        with torch.no_grad():
            self.roi_class_head.weight.copy_(head.weight[:NOT_A_DIGIT])
            self.roi_class_head.bias.copy_(head.bias[:NOT_A_DIGIT])

    def read_boxes(self, canvases: torch.Tensor, boxes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Second stage: for the digits in `boxes` (one (k, 4) tensor per canvas), class logits
        (K, num_classes) and refined boxes (K, 4) in canvas pixels."""
        frames = digit_frames(torch.cat(boxes).float())  # (K, 4)
        class_logits, placement = self.read_crops(crops_in_frames(canvases, frames, [len(b) for b in boxes]))
        return class_logits, boxes_in_frames(frames, placement)

    def read_crops(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, 1, 28, 28) normalised crops -> class logits (K, num_classes) and where the ink box
        sits in each frame (K, 4): centre shift and size, before their squashing."""
        features = self.roi_features(crops)
        return self.roi_class_head(features), self.roi_box_head(features)


def crops_in_frames(canvases: torch.Tensor, frames: torch.Tensor, per_canvas: list[int]) -> torch.Tensor:
    """The (K, 4) `frames` (`per_canvas` of them on each canvas) cut out of the (B, 1, S, W)
    normalised canvases with RoIAlign: (K, 1, 28, 28) normalised crops."""
    intensity = canvases * MNIST_STD + MNIST_MEAN  # so that outside the canvas reads as background
    crops = roi_align(intensity, list(torch.split(frames.to(canvases.dtype), per_canvas)),
                      output_size=IMAGE_SIZE, sampling_ratio=2, aligned=True)  # (K, 1, 28, 28)
    return (crops - MNIST_MEAN) / MNIST_STD


def boxes_in_frames(frames: torch.Tensor, placement: torch.Tensor) -> torch.Tensor:
    """(K, 4) frames and the second stage's (K, 4) placement of the ink box in each -> (K, 4)
    boxes in canvas pixels."""
    side = (frames[:, 2:3] - frames[:, 0:1]).float()
    shift, size = placement.float().split(2, dim=1)
    # sizes through a sigmoid: always positive (GIoU needs x1 > x0) and never beyond the frame
    centre = (frames[:, :2] + frames[:, 2:]).float() / 2 + torch.tanh(shift) * side / 2
    half = torch.sigmoid(size) * side / 2
    return torch.cat([centre - half, centre + half], dim=1)


MODEL_CLASSES: dict[str, tuple[type[nn.Module], type]] = {
    "classifier": (Classifier, ClassifierConfig),
    "unet": (UNet, UNetConfig),
    "detector": (Detector, DetectorConfig),
}

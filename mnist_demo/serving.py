"""The networks as the predictor runs them: on the CPU exported to ONNX and run by ONNX Runtime,
on CUDA and Apple MPS the torch modules with their batch norms folded away.

Why ONNX Runtime on the CPU: these networks are small (a 28x28 digit, a 96-px canvas), so torch's
eager mode spends much of their time outside the arithmetic (dispatch per layer, and for batches
of one its im2col convolutions); ONNX Runtime runs the same graph with prepacked weights and fused
layers, 2-3x faster each on one thread of this CPU (`python -m benchmarks.latency`). The graphs are
exported from the checkpoints when the predictor loads (about 0.1 s each), so the safetensors files
stay the only weights; the outputs agree with the checkpoints' to float rounding
(tests/test_fast_paths.py).
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable

import onnxruntime
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mnist_demo.constants import CANVAS_SIZE, IMAGE_SIZE
from mnist_demo.models import Detector, DetectorConfig, DetectorOutput, UNet
from mnist_demo.segmentation import GRID_HEIGHT

Network = Callable[[torch.Tensor], torch.Tensor]


class OnnxNetwork:
    """A module's forward, exported to ONNX and run by ONNX Runtime: called with (and answering
    in) CPU tensors, like the module. Safe to call from several threads at once."""

    def __init__(self, module: nn.Module, example: torch.Tensor, dynamic: dict[int, str], threads: int) -> None:
        graph = io.BytesIO()
        with warnings.catch_warnings():
            # torch's TorchScript-based exporter, deprecated in favour of the torch.export-based one,
            # which takes 1.5 s per network here against 0.1 s: too slow for the app's start.
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # The U-Net's check of its input's size is plain Python, read once while tracing: right,
            # since the predictor only ever gives it sizes that pass (segmentation.grid_size).
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            torch.onnx.export(module.eval(), (example,), graph, dynamo=False, input_names=["inputs"],
                              dynamic_axes={"inputs": dynamic})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # No busy-waiting between layers: a spinning thread starves the other request on two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])

    def run(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """All the graph's outputs for `inputs`."""
        outputs = self.session.run(None, {"inputs": inputs.detach().float().contiguous().numpy()})
        return [torch.from_numpy(output) for output in outputs]

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.run(inputs)[0]


class _DenseOutputs(nn.Module):
    """The detector's first stage with its output as a tuple, which ONNX can name."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, canvases: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        output = self.detector(canvases)
        return output.centre_logits, output.box_size, output.centre_offset


class _CropReader(nn.Module):
    """The detector's second-stage network alone (`Detector.read_crops`)."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.detector.read_crops(crops)


class OnnxDetector:
    """The detector with both its networks run by ONNX Runtime; the box arithmetic between them
    (decoding, RoIAlign, placing the refined boxes) is the torch model's own."""

    def __init__(self, detector: Detector, threads: int) -> None:
        self.config: DetectorConfig = detector.config
        canvas, crop = torch.zeros(1, 1, CANVAS_SIZE, CANVAS_SIZE), torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE)
        self.dense = OnnxNetwork(_DenseOutputs(detector), canvas, {0: "canvases", 3: "width"}, threads)
        self.crops = OnnxNetwork(_CropReader(detector), crop, {0: "crops"}, threads)

    def __call__(self, canvases: torch.Tensor) -> DetectorOutput:
        return DetectorOutput(*self.dense.run(canvases))

    def read_crops(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        class_logits, placement = self.crops.run(crops)
        return class_logits, placement

    read_boxes = Detector.read_boxes  # cuts the crops, reads them with `read_crops` above, places the boxes


def for_inference(model: nn.Module) -> nn.Module:
    """A copy of `model` ready to serve: every batch norm folded into the convolution before it
    (torch's fuse_conv_bn_eval) and the layers that do nothing in evaluation (the folded norms,
    dropout) removed. The copy is for inference only: it cannot be trained further."""
    model = copy.deepcopy(model).eval()
    for block in [module for module in model.modules() if isinstance(module, nn.Sequential)]:
        for index in range(len(block) - 1):
            if isinstance(block[index], nn.Conv2d) and isinstance(block[index + 1], nn.BatchNorm2d):
                block[index] = fuse_conv_bn_eval(block[index], block[index + 1])
                block[index + 1] = nn.Identity()
        for index in reversed(range(len(block))):
            if isinstance(block[index], (nn.Identity, nn.Dropout)):
                del block[index]
    return model


def serve(model: nn.Module, device: torch.device, threads: int) -> Network | Detector | OnnxDetector:
    """`model` (a classifier, U-Net or detector on `device`) as the predictor runs it: through ONNX
    Runtime on `threads` threads on the CPU, folded torch elsewhere."""
    if device.type != "cpu":
        return for_inference(model)
    if isinstance(model, Detector):
        return OnnxDetector(model, threads)
    if isinstance(model, UNet):  # reads a copy of the whole picture, as wide as the picture is
        return OnnxNetwork(model, torch.zeros(1, 1, GRID_HEIGHT, GRID_HEIGHT), {0: "pictures", 3: "width"}, threads)
    return OnnxNetwork(model, torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE), {0: "digits"}, threads)

"""Device choice shared by training, evaluation and the app."""

from __future__ import annotations

import contextlib

import torch


def pick_device(choice: str = "auto") -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU; otherwise the named device."""
    if choice != "auto":
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision where the hardware has it: float16 on CUDA, bfloat16 on CPUs with native
    bf16 (about 2-3x faster here); full precision elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()

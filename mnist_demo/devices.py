"""Device choice shared by training, evaluation and the app."""

from __future__ import annotations

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

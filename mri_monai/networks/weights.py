"""Loading shipped weights (plain state dicts) into networks."""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["load_state"]


def load_state(
    network: torch.nn.Module, path: str | os.PathLike | None, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """Load a plain state dict (``torch.load(weights_only=True)``) into ``network`` strictly; return it on ``device``.

    ``path=None`` loads nothing (e.g. a training config's ``pretrained_ckpt: null``: start from the initialisation).

    Raises:
        FileNotFoundError: ``path`` does not exist (e.g. weights not trained yet).
    """
    if path is None:
        return network.to(device)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: weights not found")
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network.to(device)

"""Loading shipped weights (plain state dicts) into networks."""

from __future__ import annotations

import copy as copy_module
import os
from pathlib import Path

import torch

__all__ = ["load_state"]


def load_state(
    network: torch.nn.Module,
    path: str | os.PathLike | None,
    device: str | torch.device = "cpu",
    copy: bool = False,
    missing_ok: bool = False,
) -> torch.nn.Module | None:
    """Load a plain state dict (``torch.load(weights_only=True)``) into ``network`` strictly; return it on ``device``.

    ``path=None`` loads nothing (e.g. a training config's ``pretrained_ckpt: null``: start from the initialisation).

    Args:
        network: the network the weights belong to.
        path: the state dict file, or ``None``.
        device: device of the returned network.
        copy: load into a deep copy of ``network`` and return the copy (``network`` keeps its weights), e.g. a
            second set of weights of the same architecture in an evaluation.
        missing_ok: return ``None`` instead of raising when ``path`` does not exist (an optional comparison
            model that may not have been trained).

    Raises:
        FileNotFoundError: ``path`` does not exist (e.g. weights not trained yet) and not ``missing_ok``.
    """
    if path is not None and not Path(path).is_file():
        if missing_ok:
            return None
        raise FileNotFoundError(f"{path}: weights not found")
    if copy:
        network = copy_module.deepcopy(network)
    if path is None:
        return network.to(device)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network.to(device)

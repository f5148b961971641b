"""Errors raised for bad input, each naming the file and what is wrong with it."""

from __future__ import annotations

import os

import numpy as np
import torch

__all__ = ["InputError", "check_finite"]


class InputError(ValueError):
    """Bad input data: a file that cannot be used as it is.

    The message always starts with the file (or a label for in-memory data) and then says
    what is wrong, e.g. ``"sub-000.h5: key 'kspace' is missing (keys: ['mask'])"``.

    Args:
        source: the file path, or a short label such as ``"<array>"`` for in-memory data.
        problem: what is wrong, in words a user can act on.
    """

    def __init__(self, source: str | os.PathLike | None, problem: str) -> None:
        self.source = str(source) if source is not None else "<input>"
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


def check_finite(data: np.ndarray | torch.Tensor, source: str | os.PathLike | None, what: str = "data") -> None:
    """Raise :class:`InputError` when ``data`` holds NaN or infinite values.

    Args:
        data: array or tensor of any shape; complex values are checked in both parts.
        source: file (or label) the data came from, used in the message.
        what: name of the array inside the file, e.g. ``"kspace"``.
    """
    if isinstance(data, torch.Tensor):
        bad = int((~torch.isfinite(data)).sum()) if data.numel() else 0
    else:
        bad = int((~np.isfinite(np.asarray(data))).sum()) if np.asarray(data).size else 0
    if bad:
        raise InputError(source, f"{what} contains {bad} NaN or infinite value(s)")

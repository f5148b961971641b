"""Contrast translation helpers: bidirectional generator, unpaired datalists, slice-wise translation, input checks."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from monai.inferers import SliceInferer
from monai.transforms import LoadImage
from torch import nn

from mri_monai.data.readers import NiftiOrDicomReader
from mri_monai.errors import InputError

__all__ = ["BidirectionalGenerator", "SliceTranslator", "check_volumes", "unpaired_datalist"]


class BidirectionalGenerator(nn.Module):
    """The two generators of a translation model in one module; ``direction`` picks the one ``forward`` runs.

    Saving this module saves both directions in one state dict (``a_to_b.*``, ``b_to_a.*``), so one
    ``model.pt`` serves inference in either direction.

    Args:
        a_to_b: generator from domain A (e.g. T1w) to domain B (e.g. T2w).
        b_to_a: generator from B to A.
        direction: ``"a_to_b"`` or ``"b_to_a"``.

    Shapes: as the generators, e.g. (B, 1, H, W) -> (B, 1, H, W).
    """

    def __init__(self, a_to_b: nn.Module, b_to_a: nn.Module, direction: str = "a_to_b") -> None:
        super().__init__()
        if direction not in ("a_to_b", "b_to_a"):
            raise ValueError(f"direction must be 'a_to_b' or 'b_to_a', got {direction!r}")
        self.a_to_b = a_to_b
        self.b_to_a = b_to_a
        self.reverse = direction == "b_to_a"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reverse:
            return self.b_to_a(x)
        return self.a_to_b(x)


class SliceTranslator:
    """Translate whole volumes slice by slice with a 2D generator working in [-1, 1].

    Args:
        network: 2D generator, (N, C, H, W) in [-1, 1] -> (N, C, H, W) in [-1, 1].
        roi_size: in-plane window of the network (MONAI ``SliceInferer`` pads or tiles other sizes).
        spatial_dim: spatial axis of the slices (2: axial slices of a RAS volume).
        sw_batch_size: slices per network call.

    Shapes: ``__call__``: (B, C, X, Y, Z) in [0, 1] -> (B, C, X, Y, Z) in [0, 1].
    """

    def __init__(
        self, network: nn.Module, roi_size: Sequence[int] = (128, 128), spatial_dim: int = 2, sw_batch_size: int = 16
    ) -> None:
        self.network = network
        self.inferer = SliceInferer(roi_size=tuple(roi_size), spatial_dim=spatial_dim, sw_batch_size=sw_batch_size)

    @torch.no_grad()
    def __call__(self, volume: torch.Tensor) -> torch.Tensor:
        self.network.eval()
        out = self.inferer(volume * 2 - 1, self.network)
        return ((out + 1) / 2).clamp(0, 1)


def unpaired_datalist(entries: Sequence[dict], a_key: str, b_key: str) -> list[dict]:
    """Items pairing domain A of one subject with domain B of another, so that no training pair corresponds.

    The subjects are split in two halves: A images come from the first, B images from the second, cycled to
    the longer half's length. With a single subject (smoke tests) its own A and B are paired, with a warning.

    Args:
        entries: datalist items holding ``a_key`` and ``b_key`` (and ``subject``, optional).
        a_key: key of domain A, e.g. ``"t1w"``. b_key: key of domain B, e.g. ``"t2w"``.

    Returns:
        items ``{a_key, b_key, "subject_a", "subject_b"}``.

    Raises:
        ValueError: ``entries`` is empty.
    """
    entries = list(entries)
    if not entries:
        raise ValueError("the training datalist is empty")
    if len(entries) == 1:
        warnings.warn("one training subject: its own A and B images are paired (not an unpaired setting)", stacklevel=2)
        first = second = entries
    else:
        half = (len(entries) + 1) // 2
        first, second = entries[:half], entries[half:]
    n = max(len(first), len(second))
    return [
        {
            a_key: first[i % len(first)][a_key],
            b_key: second[i % len(second)][b_key],
            "subject_a": first[i % len(first)].get("subject", ""),
            "subject_b": second[i % len(second)].get("subject", ""),
        }
        for i in range(n)
    ]


def check_volumes(entries: Sequence[dict], keys: Sequence[str]) -> None:
    """Check, before anything is written, that every file under ``keys`` is one readable, finite 3D volume.

    Args:
        entries: datalist items (paths absolute, as ``load_decathlon_datalist`` returns them).
        keys: keys of the images to check.

    Raises:
        InputError: empty list, missing key, unreadable file, NaN/Inf, or not a single-contrast 3D volume
            (a 2D image, or a 4D file holding several contrasts or time points).
    """
    if not entries:
        raise InputError("<datalist>", "no cases to process")
    loader = LoadImage(reader=NiftiOrDicomReader, image_only=True)
    for entry in entries:
        for key in keys:
            if key not in entry:
                raise InputError(str(entry), f"datalist item lacks key {key!r}")
            shape = tuple(np.asarray(loader(entry[key]).shape))
            if len(shape) != 3 and not (len(shape) == 4 and shape[3] == 1):
                problem = "one contrast per file" if len(shape) == 4 else "a 3D volume"
                raise InputError(entry[key], f"expected {problem} (X, Y, Z), got shape {shape}")

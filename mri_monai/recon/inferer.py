"""Slice-by-slice inference of a 2D k-space network over whole volumes."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["KspaceSliceInferer"]


class KspaceSliceInferer(Inferer):
    """Run a 2D reconstruction network over the slices of k-space volumes, a few slices at a time.

    Args:
        slice_batch: number of slices per network call.

    Inputs:
        inputs: complex (B, S, C, H, W) undersampled k-space volumes.
        network: called as ``network(kspace, mask)`` with (n, C, H, W) slices, returns (n, 1, H, W).
        mask: bool mask broadcasting over the volume, e.g. (B, 1, 1, 1, W) (one mask per volume).

    Returns:
        float (B, S, H, W).

    Example::

        pred = KspaceSliceInferer(slice_batch=4)(kspace[None], network, mask[None])
    """

    def __init__(self, slice_batch: int = 4) -> None:
        super().__init__()
        self.slice_batch = slice_batch

    def __call__(self, inputs: torch.Tensor, network: Any, mask: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if inputs.ndim != 5:
            raise ValueError(f"expected (B, S, C, H, W) k-space volumes, got shape {tuple(inputs.shape)}")
        mask = mask.to(torch.bool)
        mask = mask.reshape((1,) * (5 - mask.ndim) + tuple(mask.shape))
        volumes = []
        for b in range(inputs.shape[0]):
            slices = []
            volume_mask = mask[min(b, mask.shape[0] - 1)]
            for start in range(0, inputs.shape[1], self.slice_batch):
                chunk = inputs[b, start : start + self.slice_batch]
                chunk_mask = volume_mask[min(start, volume_mask.shape[0] - 1) :][: chunk.shape[0]]
                slices.append(network(chunk, chunk_mask, *args, **kwargs)[:, 0])
            volumes.append(torch.cat(slices))
        return torch.stack(volumes)

"""Glue between k-space batches and MONAI's engines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.engines import PrepareBatch

__all__ = ["KspaceBatch"]


class KspaceBatch(PrepareBatch):
    """``prepare_batch`` of MONAI's trainers and evaluators for k-space batches: the network gets (kspace, mask).

    The batch holds ``kspace`` (B, C, H, W) complex, ``mask`` (B, 1, 1 or H, W) bool and, for training and
    validation, ``target`` (B, 1, H, W). The engine then calls ``network(kspace, mask)`` and compares the output with
    the target.

    Args:
        kspace_key, mask_key, target_key: the batch keys.

    Example::

        trainer = SupervisedTrainer(..., prepare_batch=KspaceBatch())
    """

    def __init__(self, kspace_key: str = "kspace", mask_key: str = "mask", target_key: str = "target") -> None:
        self.kspace_key = kspace_key
        self.mask_key = mask_key
        self.target_key = target_key

    def __call__(
        self,
        batchdata: Mapping[str, Any],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple, dict]:
        kspace = batchdata[self.kspace_key].to(device=device, non_blocking=non_blocking)
        mask = batchdata[self.mask_key].to(device=device, non_blocking=non_blocking)
        target = batchdata.get(self.target_key)
        if target is not None:
            target = target.to(device=device, non_blocking=non_blocking)
        return kspace, target, (mask,), {}

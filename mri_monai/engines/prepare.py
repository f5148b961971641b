"""Batch preparation and discriminator-output helpers shared by the GAN engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["PrepareBatchPair", "discriminator_logits"]


class PrepareBatchPair:
    """``prepare_batch`` for MONAI engines: the tensors under two keys of a dictionary batch, on the device.

    Args:
        first_key: key of the first tensor (the generator input, or domain A).
        second_key: key of the second tensor (the target, or domain B).

    Example::

        prepare = PrepareBatchPair("t1w", "t2w")
        t1, t2 = prepare({"t1w": a, "t2w": b}, device="cpu")
    """

    def __init__(self, first_key: str, second_key: str) -> None:
        self.first_key = first_key
        self.second_key = second_key

    def __call__(
        self, batchdata: dict[str, torch.Tensor], device: str | torch.device | None = None, non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        missing = [k for k in (self.first_key, self.second_key) if k not in batchdata]
        if missing:
            raise KeyError(f"batch lacks key(s) {missing}; it has {sorted(batchdata)}")
        return tuple(  # type: ignore[return-value]
            torch.as_tensor(batchdata[k]).to(device=device, non_blocking=non_blocking, **kwargs)
            for k in (self.first_key, self.second_key)
        )


def discriminator_logits(output: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The logits of a discriminator's output: the last element of MONAI ``PatchDiscriminator``'s feature list.

    Args:
        output: a tensor, or a list/tuple of intermediate feature maps ending with the logits.
    """
    return output[-1] if isinstance(output, (list, tuple)) else output

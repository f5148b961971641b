"""The compressed-sensing baseline of the reconstruction bundles' evaluation."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.transforms import MapTransform

from .baselines import compressed_sensing

__all__ = ["CompressedSensingd"]


class CompressedSensingd(MapTransform):
    """L1-wavelet compressed sensing (:func:`~.baselines.compressed_sensing`) of every slice of a k-space volume.

    Args:
        keys: scaled, undersampled complex (S, C, H, W) k-space.
        output_key: where the (S, H, W) magnitude is written, multiplied back by ``data[scale_key]``.
        mask_key, scale_key: the item's mask and per-slice scale (see :class:`~.transforms.ZeroFilledScaled`).
        lamda, max_iter: see :func:`~.baselines.compressed_sensing`.
    """

    def __init__(
        self,
        keys: str,
        output_key: str = "compressed_sensing",
        mask_key: str = "mask",
        scale_key: str = "scale",
        lamda: float = 0.003,
        max_iter: int = 30,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_key, self.mask_key, self.scale_key = output_key, mask_key, scale_key
        self.lamda, self.max_iter = lamda, max_iter

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            kspace, mask = torch.as_tensor(d[key]), torch.as_tensor(d[self.mask_key])
            mask = mask.reshape(mask.shape[-2:])
            slices = [compressed_sensing(k, mask, self.lamda, self.max_iter) for k in kspace]
            d[self.output_key] = torch.stack(slices) * torch.as_tensor(d[self.scale_key]).reshape(-1, 1, 1).cpu()
        return d

"""Data consistency in k-space (Schlemper et al., IEEE TMI 2018, eq. 6), noiseless and noisy.

Given the network's k-space estimate ``k`` and the measured samples ``k0`` on the mask ``m``:

- noiseless (``lam`` = None): the sampled points are replaced by the measurements, ``m * k0 + (1 - m) * k``;
- noisy (``lam`` > 0): the sampled points are the weighted mean ``(k + lam * k0) / (1 + lam)``, which tends to the
  noiseless case as ``lam`` grows.

Reference: Schlemper et al., "A Deep Cascade of Convolutional Neural Networks for Dynamic MR Image
Reconstruction", IEEE TMI 37(2), 2018.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["data_consistency", "DataConsistency"]


def data_consistency(kspace: Tensor, measured: Tensor, mask: Tensor, lam: Tensor | None = None) -> Tensor:
    """Data-consistent k-space.

    Args:
        kspace: complex (..., H, W) estimate.
        measured: complex (..., H, W) measured (zero-filled) k-space.
        mask: bool mask broadcasting over ``kspace`` (True where sampled).
        lam: noise weight, a positive scalar tensor; ``None`` for the noiseless case.

    Returns:
        complex tensor of the shape of ``kspace``; unsampled points are those of ``kspace``.
    """
    sampled = measured if lam is None else (kspace + lam * measured) / (1 + lam)
    return torch.where(mask, sampled, kspace)


class DataConsistency(nn.Module):
    """Data-consistency layer with an optional learned noise weight.

    Args:
        lam: ``None`` for noiseless data consistency, else the initial value of the learned weight ``lam > 0``
            (kept positive as ``|lam|``).

    Example::

        dc = DataConsistency()  # noiseless
        k = dc(fft2c(image), masked_kspace, mask)
    """

    def __init__(self, lam: float | None = None) -> None:
        super().__init__()
        self.noiseless = lam is None
        self.lam = nn.Parameter(torch.tensor(1.0 if lam is None else float(lam)), requires_grad=lam is not None)

    def forward(self, kspace: Tensor, measured: Tensor, mask: Tensor) -> Tensor:
        if self.noiseless:
            return data_consistency(kspace, measured, mask)
        return data_consistency(kspace, measured, mask, self.lam.abs())

"""Deep Cascade of CNNs for single-coil 2D reconstruction (Schlemper et al., IEEE TMI 2018).

Each cascade is a residual CNN block in image space (``num_convs`` 3x3 convolutions with ReLU, the complex image as
two real channels) followed by a data-consistency layer in k-space (:class:`~.data_consistency.DataConsistency`).
The paper's D5-C5 network is ``num_cascades=5, num_convs=5, features=64``.

Reference: Schlemper et al., "A Deep Cascade of Convolutional Neural Networks for Dynamic MR Image
Reconstruction", IEEE TMI 37(2), 2018.
"""

from __future__ import annotations

import torch
from monai.networks.blocks.fft_utils_t import fftn_centered_t, ifftn_centered_t
from torch import Tensor, nn

from .data_consistency import DataConsistency
from .varnet import sampled_points

__all__ = ["CNNBlock", "DeepCascadeCNN"]


def _fft2c(image: Tensor) -> Tensor:
    """Centred orthonormal 2D FFT of complex (..., H, W), through MONAI's TorchScript-compatible FFT."""
    return torch.view_as_complex(fftn_centered_t(torch.view_as_real(image), 2, True))


def _ifft2c(kspace: Tensor) -> Tensor:
    """Centred orthonormal 2D inverse FFT of complex (..., H, W) (same as :func:`mri_monai.kspace.ifft2c`)."""
    return torch.view_as_complex(ifftn_centered_t(torch.view_as_real(kspace), 2, True))


class CNNBlock(nn.Module):
    """Residual CNN on a complex image: ``x + conv(relu(conv(...)))`` on the (real, imaginary) channels.

    Args:
        num_convs: number of convolutions (>= 2).
        features: channels of the hidden convolutions.

    Inputs: complex (B, 1, H, W). Returns: complex (B, 1, H, W).
    """

    def __init__(self, num_convs: int = 5, features: int = 32) -> None:
        super().__init__()
        if num_convs < 2:
            raise ValueError(f"num_convs must be >= 2, got {num_convs}")
        layers: list[nn.Module] = [nn.Conv2d(2, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(num_convs - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(features, 2, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: Tensor) -> Tensor:
        residual = self.net(torch.cat([image.real, image.imag], dim=1))
        return image + torch.complex(residual[:, :1], residual[:, 1:])


class DeepCascadeCNN(nn.Module):
    """Deep Cascade CNN: interleaved residual CNN blocks and data-consistency layers, single-coil 2D.

    Args:
        num_cascades: number of (CNN block, data consistency) pairs.
        num_convs: convolutions per CNN block.
        features: hidden channels of each CNN block.
        lam: ``None`` for noiseless data consistency, else the initial learned noise weight of every DC layer.

    Inputs:
        kspace: complex (B, 1, H, W) undersampled single-coil k-space, zero where not sampled.
        mask: bool mask broadcasting over (B, 1, H, W); when omitted, the non-zero points of ``kspace``.

    Returns:
        float (B, 1, H, W): magnitude of the reconstructed image.

    Example::

        net = DeepCascadeCNN(num_cascades=5, num_convs=5, features=32)
        image = net(masked_kspace, mask)  # (1, 1, 160, 128) complex64, (1, 1, 1, 128) bool -> (1, 1, 160, 128)
    """

    def __init__(self, num_cascades: int = 5, num_convs: int = 5, features: int = 32, lam: float | None = None):
        super().__init__()
        self.blocks = nn.ModuleList([CNNBlock(num_convs, features) for _ in range(num_cascades)])
        self.dc = nn.ModuleList([DataConsistency(lam) for _ in range(num_cascades)])

    def forward(self, kspace: Tensor, mask: Tensor | None = None) -> Tensor:
        if kspace.shape[1] != 1:
            raise ValueError(f"DeepCascadeCNN reconstructs single-coil k-space (B, 1, H, W), got {kspace.shape}")
        kspace = kspace.to(torch.complex64)
        if mask is None:
            mask = sampled_points(kspace)
        mask = mask.to(torch.bool)
        image = _ifft2c(kspace)
        for block, dc in zip(self.blocks, self.dc):  # noqa: B905 (TorchScript has no zip(strict=...))
            image = _ifft2c(dc(_fft2c(block(image)), kspace, mask))
        return image.abs()

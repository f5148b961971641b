"""Multi-scale fusion CNN for MR image super-resolution, after Liu et al. 2018.

Liu C, Wu X, Yu X, Tang Y, Zhang J, Zhou J. "Fusing multi-scale information in convolution network for MR image
super-resolution reconstruction." BioMedical Engineering OnLine 17:114 (2018),
https://doi.org/10.1186/s12938-018-0546-9.

The network works on the low-resolution image already interpolated onto the high-resolution grid: a first
convolution extracts features, a chain of multi-scale fusion blocks (parallel convolution paths with different
kernel sizes, concatenated and fused by a 1x1 convolution, with a local residual connection) refines them, and a last
convolution predicts the residual that is added to the input (global residual learning). Every layer is a
stride-1 "same" convolution, so the network is fully convolutional: any spatial size in, the same size out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers import Conv
from torch import nn

__all__ = ["MultiScaleFusionBlock", "MultiScaleFusionNet"]


class MultiScaleFusionBlock(nn.Module):
    """Parallel convolution paths with different kernel sizes, concatenated, fused by a 1x1 convolution.

    ``y = x + fuse(concat(relu(conv_k(x)) for k in kernel_sizes))``.

    Args:
        spatial_dims: 2 or 3.
        channels: input and output channels.
        branch_channels: output channels of each path.
        kernel_sizes: kernel size of each path (odd).

    Shapes:
        input: (B, channels, *spatial); output: the same.
    """

    def __init__(
        self, spatial_dims: int, channels: int, branch_channels: int, kernel_sizes: Sequence[int] = (3, 5, 7)
    ) -> None:
        super().__init__()
        conv = Conv[Conv.CONV, spatial_dims]
        if not kernel_sizes or any(k % 2 == 0 or k < 1 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd positive integers, got {kernel_sizes}")
        self.paths = nn.ModuleList(
            nn.Sequential(conv(channels, branch_channels, k, padding=k // 2), nn.ReLU(inplace=True))
            for k in kernel_sizes
        )
        self.fuse = conv(branch_channels * len(kernel_sizes), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` plus the fused multi-scale features, shape (B, channels, *spatial)."""
        return x + self.fuse(torch.cat([path(x) for path in self.paths], dim=1))


class MultiScaleFusionNet(nn.Module):
    """Multi-scale fusion super-resolution CNN (Liu et al. 2018) with global residual learning.

    Args:
        spatial_dims: 3 (patches of volumes) or 2 (slices).
        in_channels: channels of the interpolated low-resolution input.
        out_channels: channels of the output (``in_channels`` for the global residual).
        features: channels between the blocks.
        branch_channels: channels of each path of a block.
        kernel_sizes: kernel sizes of the parallel paths of each block.
        num_blocks: number of multi-scale fusion blocks.

    Shapes:
        input: (B, in_channels, *spatial) on the high-resolution grid; output: (B, out_channels, *spatial).

    Example::

        net = MultiScaleFusionNet(spatial_dims=3, features=32, branch_channels=16, kernel_sizes=(3, 5), num_blocks=3)
        hr = net(torch.rand(1, 1, 32, 32, 32))  # (1, 1, 32, 32, 32)
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 32,
        branch_channels: int = 16,
        kernel_sizes: Sequence[int] = (3, 5, 7),
        num_blocks: int = 3,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if in_channels != out_channels:
            raise ValueError(
                f"global residual learning needs in_channels == out_channels, got {in_channels}, {out_channels}"
            )
        conv = Conv[Conv.CONV, spatial_dims]
        self.head = nn.Sequential(conv(in_channels, features, 3, padding=1), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(
            *(MultiScaleFusionBlock(spatial_dims, features, branch_channels, kernel_sizes) for _ in range(num_blocks))
        )
        self.tail = conv(features, out_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # start as the identity: the output is the interpolated input
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the super-resolved image: ``x`` plus the predicted residual, shape (B, out_channels, *spatial)."""
        return x + self.tail(self.blocks(self.head(x)))

"""Residual super-resolution generator of a 3D SRGAN, after Sánchez & Vilaplana 2018.

Sánchez I, Vilaplana V. "Brain MRI super-resolution using 3D generative adversarial networks." MIDL 2018,
https://arxiv.org/abs/1812.11440.

Unlike :class:`~mri_monai.networks.MultiScaleFusionNet`, the generator works on the low-resolution (LR) grid and
upsamples inside the network: a head convolution, residual blocks (convolution, PReLU, convolution, identity skip;
no batch normalisation), a convolution with a long skip over the blocks, then a resize-convolution (nearest-neighbour
upsampling by the integer factors followed by a convolution, which avoids the checkerboard artefacts of strided
transposed convolutions), and an output convolution. The network predicts a residual over the linear interpolation
of its input (:func:`upsample_linear`), so an untrained generator already returns the linear baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import ResidualUnit
from monai.networks.layers import Conv
from monai.utils import ensure_tuple_rep
from torch import nn

__all__ = ["SRGANGenerator", "upsample_linear"]


def upsample_linear(x: torch.Tensor, scale: list[int]) -> torch.Tensor:
    """Linear interpolation by integer factors with the geometry of :mod:`mri_monai.super_resolution.degrade`.

    High-resolution voxel ``i`` sits at LR voxel ``i / f`` (LR voxel ``k`` is centred on HR voxel ``k * f``), and
    values beyond the last LR voxel repeat the edge: the same values as
    :class:`~mri_monai.super_resolution.transforms.InterpolateToGrid` with ``order=1``.

    Args:
        x: (B, C, *spatial).
        scale: one integer factor per spatial axis.

    Returns:
        (B, C, *(spatial * scale)).
    """
    for i, factor in enumerate(scale):
        if factor == 1:
            continue
        axis = i + 2
        n = x.shape[axis]
        following = torch.cat([x.narrow(axis, 1, n - 1), x.narrow(axis, n - 1, 1)], dim=axis)
        shape = [1] * x.ndim
        shape[axis] = n * factor
        weight = (torch.arange(n * factor, device=x.device, dtype=x.dtype) % factor / factor).reshape(shape)
        lower, upper = x.repeat_interleave(factor, dim=axis), following.repeat_interleave(factor, dim=axis)
        x = lower * (1 - weight) + upper * weight
    return x


class SRGANGenerator(nn.Module):
    """Residual generator with resize-convolution upsampling (3D SRGAN, Sánchez & Vilaplana 2018).

    Args:
        spatial_dims: 3 (volumes) or 2 (slices).
        in_channels: channels of the LR input.
        out_channels: channels of the output (``in_channels`` for the residual over the interpolated input).
        features: channels of the convolutions.
        num_residual_blocks: residual blocks on the LR grid.
        scale: integer upsampling factor per spatial axis, e.g. ``(1, 1, 2)`` for twice thinner slices.

    Shapes:
        input: (B, in_channels, *lr_spatial); output: (B, out_channels, *(lr_spatial * scale)).

    Example::

        net = SRGANGenerator(spatial_dims=3, features=32, num_residual_blocks=4, scale=(1, 1, 2))
        hr = net(torch.rand(1, 1, 32, 32, 16))  # (1, 1, 32, 32, 32)
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 32,
        num_residual_blocks: int = 4,
        scale: Sequence[int] | int = (1, 1, 2),
    ) -> None:
        super().__init__()
        if out_channels != in_channels:
            raise ValueError(f"the residual needs out_channels == in_channels, got {out_channels} and {in_channels}")
        factors = ensure_tuple_rep(scale, spatial_dims)
        if any(int(f) != f or f < 1 for f in factors):
            raise ValueError(f"scale must be {spatial_dims} integer factors >= 1, got {scale}")
        self.scale = [int(f) for f in factors]
        conv = Conv[Conv.CONV, spatial_dims]
        self.head = nn.Sequential(conv(in_channels, features, 3, padding=1), nn.PReLU(features))
        self.blocks = nn.Sequential(
            *(
                ResidualUnit(spatial_dims, features, features, norm=None, act="PRELU", last_conv_only=True)
                for _ in range(num_residual_blocks)
            )
        )
        self.body_end = conv(features, features, 3, padding=1)
        self.upsample = nn.Sequential(
            nn.Upsample(scale_factor=tuple(float(f) for f in self.scale), mode="nearest"),
            conv(features, features, 3, padding=1),
            nn.PReLU(features),
        )
        self.tail = conv(features, out_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` (B, C, *lr_spatial) to (B, C, *(lr_spatial * scale))."""
        features = self.head(x)
        features = features + self.body_end(self.blocks(features))
        return upsample_linear(x, self.scale) + self.tail(self.upsample(features))

"""VoxelMorph at reduced resolution, with a global affine head.

MONAI's ``VoxelMorphUNet`` sees the pair average-pooled ``downsample`` times and predicts a stationary velocity field,
integrated by ``DVF2DDF`` (scaling and squaring) on that coarse grid; a small convolutional head predicts a global
affine map from the same coarse pair. The coarse field is ``p -> M (p + u(p))`` (the diffeomorphism ``u`` followed by
the affine ``M``, about the grid centre), upsampled to the input grid.

Why: on a CPU the full-resolution network is slow (about 5 s per 96 x 112 x 96 forward, 23 s per training step);
brain deformations are smooth, so a velocity on a grid 4 times coarser (8 mm at 2 mm input, finer than Elastix's
10 mm B-spline grid) loses little and costs a small fraction. A UNet learns a global rotation/scaling only slowly,
while an affine head learns it from every voxel's gradient at once: with it the network learns in the few thousand
steps a CPU affords. The field stays diffeomorphic for invertible ``M``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import DVF2DDF
from monai.networks.nets import VoxelMorphUNet
from torch import nn

__all__ = ["LowResVoxelMorph"]


class LowResVoxelMorph(nn.Module):
    """Predict the displacement field that registers a moving image to a fixed one.

    Inputs of any size are padded (replicate) at the far end to a multiple of
    ``downsample * 2 ** (len(channels) // 2)`` and the field is cropped back.

    Args:
        channels: UNet channels, in pairs (see ``VoxelMorphUNet``).
        final_conv_channels: channels of the convolutions after the UNet.
        downsample: coarse-grid factor (1 = full resolution).
        integration_steps: scaling-and-squaring steps (0 = a plain displacement field, not diffeomorphic).
        affine_channels: channels of the affine head's stride-2 convolutions, whose output is pooled to a 3 x 4 x 3
            grid and mapped to the 12 affine parameters by a zero-initialised linear layer (empty: no affine head).
        norm: feature normalisation of the UNet's convolutions (e.g. ``"instance"``; ``None`` as in VoxelMorph).

    Shapes:
        input: (B, 2, X, Y, Z): channel 0 the moving image, channel 1 the fixed image, on the same grid, intensities
        normalised (e.g. to [0, 1]). output: (B, 3, X, Y, Z) displacement in input voxels: output voxel ``p`` of the
        warped moving image samples the moving image at ``p + ddf[:, p]`` (MONAI ``Warp``).

    Example::

        net = LowResVoxelMorph()
        ddf = net(torch.cat([moving, fixed], dim=1))  # (1, 3, 96, 112, 96)
        warped = monai.networks.blocks.Warp()(moving, ddf)
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 32, 32, 32, 32),
        final_conv_channels: Sequence[int] = (16, 16),
        downsample: int = 4,
        integration_steps: int = 7,
        affine_channels: Sequence[int] = (16, 32, 64),
        norm: str | tuple | None = None,
    ) -> None:
        super().__init__()
        if downsample < 1:
            raise ValueError(f"downsample must be >= 1, got {downsample}")
        self.downsample = int(downsample)
        self.integration_steps = int(integration_steps)
        self.multiple = self.downsample * 2 ** (len(channels) // 2)
        self.backbone = VoxelMorphUNet(
            spatial_dims=3,
            in_channels=2,
            unet_out_channels=int(channels[1]),
            channels=tuple(channels),
            final_conv_channels=tuple(final_conv_channels),
            norm=norm,
        )
        self.integrate = DVF2DDF(num_steps=max(1, self.integration_steps), mode="bilinear", padding_mode="border")
        self.affine_head = self._affine_head(tuple(affine_channels)) if affine_channels else None

    @staticmethod
    def _affine_head(channels: tuple[int, ...]) -> nn.Sequential:
        layers: list[nn.Module] = []
        c_in = 2
        for c in channels:
            layers += [nn.Conv3d(c_in, c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c
        out = nn.Linear(c_in * 3 * 4 * 3, 12)
        nn.init.zeros_(out.weight)  # start from the identity map
        nn.init.zeros_(out.bias)
        # a fixed 3 x 4 x 3 feature grid keeps where things are (a global average would not), for any input size
        return nn.Sequential(*layers, nn.AdaptiveAvgPool3d((3, 4, 3)), nn.Flatten(), out)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        """(B, 2, X, Y, Z) moving and fixed -> (B, 3, X, Y, Z) displacement in voxels."""
        return self.to_input_grid(self.coarse_field(pair), pair.shape[2:])

    def coarse_field(self, pair: torch.Tensor) -> torch.Tensor:
        """(B, 2, X, Y, Z) -> (B, 3, X', Y', Z') displacement in coarse voxels (X' = padded X / downsample)."""
        if pair.ndim != 5 or pair.shape[1] != 2:
            raise ValueError(f"expected a (B, 2, X, Y, Z) moving/fixed pair, got shape {tuple(pair.shape)}")
        pad = []
        for n in reversed(pair.shape[2:]):
            pad += [0, -n % self.multiple]
        x = F.pad(pair, pad, mode="replicate") if any(pad) else pair
        if self.downsample > 1:
            x = F.avg_pool3d(x, self.downsample)
        velocity = self.backbone(x)
        ddf = self.integrate(velocity) if self.integration_steps > 0 else velocity
        if self.affine_head is None:
            return ddf
        return self._compose_affine(ddf, self.affine_head(x))

    @staticmethod
    def _compose_affine(ddf: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """``M (p + u(p)) - p`` with ``M q = (I + A)(q - c) + c + t``, ``theta = (A row-major, t)``, (B, 12)."""
        shape = ddf.shape[2:]
        axes = [torch.arange(n, dtype=ddf.dtype, device=ddf.device) - (n - 1) / 2 for n in shape]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))[None]  # p - c, (1, 3, X', Y', Z')
        linear = theta[:, :9].reshape(-1, 3, 3)
        moved = grid + ddf  # p + u(p) - c
        return ddf + torch.einsum("bij,bj...->bi...", linear, moved) + theta[:, 9:, None, None, None]

    def to_input_grid(self, coarse_ddf: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        """A (B, 3, X', Y', Z') displacement in coarse voxels -> (B, 3, *shape) in input voxels.

        Trilinear upsampling by ``downsample`` (cell-centred, matching the average pooling of :meth:`coarse_field`),
        values scaled by ``downsample``, the padding cropped off.
        """
        ddf = coarse_ddf
        if self.downsample > 1:
            ddf = F.interpolate(ddf, scale_factor=self.downsample, mode="trilinear", align_corners=False)
            ddf = ddf * self.downsample
        x, y, z = (int(n) for n in shape)
        return ddf[:, :, :x, :y, :z]

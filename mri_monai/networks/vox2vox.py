"""The Vox2Vox generator (Cirillo et al. 2020): a 3D U-Net whose output is a per-voxel class distribution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import UNet

__all__ = ["Vox2VoxGenerator"]


class Vox2VoxGenerator(torch.nn.Module):
    """3D U-Net generator of Vox2Vox returning softmax class probabilities.

    Cirillo, Abramian, Eklund, "Vox2Vox: 3D-GAN for Brain Tumour Segmentation", BrainLes 2020,
    https://arxiv.org/abs/2003.13653. The generator maps the stacked contrasts to a segmentation; returning
    probabilities (not logits) lets the same tensor feed the generalised Dice loss and the conditional
    discriminator, which sees (image, one-hot label) for real pairs and (image, probabilities) for generated ones.
    The U-Net is MONAI's :class:`~monai.networks.nets.UNet` (residual units, instance norm).

    Args:
        spatial_dims: 2 or 3.
        in_channels: number of contrasts (BraTS: T1, T1ce, T2, FLAIR).
        out_channels: number of classes including the background.
        channels: feature channels per level.
        strides: downsampling stride between levels (``len(channels) - 1`` entries).
        num_res_units: residual units per level.
        dropout: dropout probability.
        norm: normalisation layer.

    Shapes: (B, in_channels, *S) -> (B, out_channels, *S), summing to 1 over the channels; every spatial size
    must be divisible by the product of ``strides``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 4,
        out_channels: int = 4,
        channels: Sequence[int] = (16, 32, 64, 128),
        strides: Sequence[int] = (2, 2, 2),
        num_res_units: int = 2,
        dropout: float = 0.0,
        norm: str = "INSTANCE",
    ) -> None:
        super().__init__()
        self.unet = UNet(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            channels=channels,
            strides=strides,
            num_res_units=num_res_units,
            dropout=dropout,
            norm=norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities of every voxel of ``x``."""
        return torch.softmax(self.unet(x), dim=1)

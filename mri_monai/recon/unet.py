"""MONAI's ``BasicUNet`` with the topology and layer choices of fastMRI's VarNet U-Net.

fastMRI's ``Unet(chans, num_pool_layers=4)`` and MONAI's ``BasicUNet`` with features ``(c, 2c, 4c, 8c, 16c, c)`` share
their encoder, but ``BasicUNet``'s last up-sampling keeps all ``2c`` channels and concatenates them with the ``c``
skip channels, so its full-resolution convolutions see ``3c`` inputs where fastMRI's see ``2c``; it also max-pools
where fastMRI average-pools. At the VarNet's sizes MONAI's U-Net made our VarNet 5-13 % slower than fastMRI's on a
CPU (``benchmarks/reconstruction.py``). :class:`FastMRIUNet` rebuilds that last block with MONAI's ``UpCat``
halving the channels and pools by averaging; the defaults take fastMRI's other layer choices (no convolution bias
before instance norm, instance norm without affine parameters, LeakyReLU slope 0.2).
"""

from __future__ import annotations

from monai.networks.nets.basic_unet import BasicUNet, UpCat
from torch import nn

__all__ = ["FastMRIUNet", "unet_features"]


def unet_features(chans: int) -> tuple[int, int, int, int, int, int]:
    """``BasicUNet`` features equivalent to fastMRI's ``Unet(chans, num_pool_layers=4)``: (c, 2c, 4c, 8c, 16c, c)."""
    return (chans, 2 * chans, 4 * chans, 8 * chans, 16 * chans, chans)


class FastMRIUNet(BasicUNet):
    """2D ``BasicUNet`` whose last up-sampling halves the channels and whose poolings average, as fastMRI's ``Unet``.

    Args:
        chans: features at full resolution, doubling over the 4 poolings (fastMRI's ``chans``).
        in_channels: input channels (2 for a complex image as real and imaginary parts).
        out_channels: output channels.
        act: activation, MONAI style; fastMRI's LeakyReLU(0.2) by default.
        norm: normalisation, MONAI style; fastMRI's instance norm without affine parameters by default.
        bias: convolution bias; off by default, since instance norm follows every convolution.

    Inputs:
        (B, in_channels, H, W) with H and W divisible by 16.

    Returns:
        (B, out_channels, H, W).
    """

    def __init__(
        self,
        chans: int,
        in_channels: int = 2,
        out_channels: int = 2,
        act: str | tuple = ("LeakyReLU", {"negative_slope": 0.2, "inplace": True}),
        norm: str | tuple = ("instance", {"affine": False}),
        bias: bool = False,
    ) -> None:
        features = unet_features(chans)
        super().__init__(2, in_channels, out_channels, features, act, norm, bias)
        self.upcat_1 = UpCat(2, features[1], features[0], features[5], act, norm, bias, halves=True)
        for down in (self.down_1, self.down_2, self.down_3, self.down_4):
            down.max_pooling = nn.AvgPool2d(kernel_size=2)

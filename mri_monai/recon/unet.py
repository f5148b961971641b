"""MONAI's ``BasicUNet`` for the VarNet: as MONAI builds it, with cheaper equivalent layers, and in fastMRI's layout.

fastMRI's ``Unet(chans, num_pool_layers=4)`` and MONAI's ``BasicUNet`` with features ``(c, 2c, 4c, 8c, 16c, c)`` share
their encoder, but ``BasicUNet``'s last up-sampling keeps all ``2c`` channels and concatenates them with the ``c``
skip channels, so its full-resolution convolutions see ``3c`` inputs where fastMRI's see ``2c``; it also max-pools
where fastMRI average-pools. At the VarNet's sizes MONAI's U-Net as MONAI builds it made our VarNet 5-13 % slower
than fastMRI's on a CPU. :class:`FastMRIUNet` rebuilds that last block with MONAI's ``UpCat``
halving the channels and pools by averaging; the defaults take fastMRI's other layer choices (no convolution bias
before instance norm, instance norm without affine parameters, LeakyReLU slope 0.2).

:class:`LeanBasicUNet` is the ``BasicUNet`` that MONAI's ``ComplexUnet`` builds (same parameters, state dict and
outputs) computed more cheaply on a CPU: torch's ``instance_norm`` copies its affine parameters once per batch element
on every call (here it is torch's ``GroupNorm`` with one channel per group), ``max_pool2d`` runs several times slower
than two element-wise maxima of strided views, every ``UpCat`` pads its input by zero rows (a copy) when the sizes
already match, and its convolution weights are channels-last, so that oneDNN computes every feature map channels-last.
With it our VarNet runs 1.16x (160 x 128) to 1.25x (320 x 320) faster than ``fastmri.models.VarNet`` at the same size
(``benchmarks/reconstruction.py``).
"""

from __future__ import annotations

import torch
from monai.networks.nets.basic_unet import BasicUNet, UpCat
from torch import Tensor, nn

__all__ = ["BlockMaxPool2d", "FastMRIUNet", "LeanBasicUNet", "unet_features"]


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


class BlockMaxPool2d(nn.Module):
    """2 x 2 max pooling with stride 2 as two element-wise maxima of strided views: ``nn.MaxPool2d(2)``'s values.

    Inputs:
        (..., H, W); an odd last row or column is dropped, as ``nn.MaxPool2d(2)`` drops it.

    Returns:
        (..., H // 2, W // 2).
    """

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        rows = torch.maximum(x[..., 0:height:2, :width], x[..., 1:height:2, :width])
        return torch.maximum(rows[..., 0::2], rows[..., 1::2])


class LeanBasicUNet(BasicUNet):
    """The 2D ``BasicUNet`` of MONAI's ``ComplexUnet``, with :class:`BlockMaxPool2d` and ``nn.GroupNorm`` instance norm.

    ``ComplexUnet(features=unet_features(chans))`` without a ``conv_net`` builds ``BasicUNet`` with LeakyReLU 0.1,
    affine instance norm, convolution bias and transposed-convolution up-sampling; this is that network with the
    same parameter names, so its state dicts (the shipped weights) load unchanged, and the same outputs. Its
    ``UpCat`` blocks do not pad, so H and W must be divisible by 16 (``ComplexUnet`` pads its input to that). The
    parameters are channels-last (state dicts load either way), and so are the outputs.

    Args:
        chans: features at full resolution, doubling over the 4 poolings (fastMRI's ``chans``).

    Inputs:
        (B, 2, H, W) with H and W divisible by 16.

    Returns:
        (B, 2, H, W).
    """

    def __init__(self, chans: int) -> None:
        super().__init__(
            2,
            2,
            2,
            unet_features(chans),
            ("LeakyReLU", {"negative_slope": 0.1, "inplace": True}),
            ("instance", {"affine": True}),
            True,
            0.0,
            "deconv",
        )
        for down in (self.down_1, self.down_2, self.down_3, self.down_4):
            down.max_pooling = BlockMaxPool2d()
        for up in (self.upcat_4, self.upcat_3, self.upcat_2, self.upcat_1):
            up.is_pad = False  # the sizes match at every level when H and W are divisible by 16
        for module in list(self.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, nn.InstanceNorm2d):  # affine, no running statistics: the same parameter names
                    setattr(module, name, nn.GroupNorm(child.num_features, child.num_features, child.eps))
        self.to(memory_format=torch.channels_last)

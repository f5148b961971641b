"""ResNet image-to-image generator of CycleGAN (Zhu et al. 2017), after Johnson et al. 2016."""

from __future__ import annotations

import torch
from monai.networks.layers import Act, Conv, Norm
from torch import nn

__all__ = ["ResnetGenerator", "ResidualBlock"]


def _reflection_pad(spatial_dims: int) -> type[nn.Module]:
    return {1: nn.ReflectionPad1d, 2: nn.ReflectionPad2d, 3: nn.ReflectionPad3d}[spatial_dims]


class ResidualBlock(nn.Module):
    """Two reflection-padded 3x3 convolutions with instance norm and an identity shortcut.

    Args:
        spatial_dims: 2 or 3.
        channels: input and output channels C.

    Shapes: (B, C, *S) -> (B, C, *S).
    """

    def __init__(self, spatial_dims: int, channels: int) -> None:
        super().__init__()
        conv, norm, pad = (
            Conv[Conv.CONV, spatial_dims],
            Norm[Norm.INSTANCE, spatial_dims],
            _reflection_pad(spatial_dims),
        )
        self.block = nn.Sequential(
            pad(1),
            conv(channels, channels, kernel_size=3),
            norm(channels),
            nn.ReLU(inplace=True),
            pad(1),
            conv(channels, channels, kernel_size=3),
            norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet generator: 7x7 stem, strided down-sampling, residual blocks, transposed up-sampling.

    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
    https://arxiv.org/abs/1703.10593 (architecture from Johnson et al., ECCV 2016). Instance norm throughout and
    a ``tanh`` output, so targets are expected in [-1, 1].

    Args:
        spatial_dims: 2 (slices) or 3 (volumes).
        in_channels: input channels.
        out_channels: output channels.
        base_channels: channels after the stem; doubled at each down-sampling.
        num_downsamplings: stride-2 stages; every spatial size must be divisible by ``2 ** num_downsamplings``.
        num_residual_blocks: residual blocks at the lowest resolution.

    Shapes: (B, in_channels, *S) -> (B, out_channels, *S).

    Example::

        net = ResnetGenerator(spatial_dims=2, in_channels=1, out_channels=1, base_channels=32, num_residual_blocks=6)
        y = net(torch.rand(2, 1, 128, 128) * 2 - 1)  # (2, 1, 128, 128) in [-1, 1]
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        base_channels: int = 32,
        num_downsamplings: int = 2,
        num_residual_blocks: int = 6,
    ) -> None:
        super().__init__()
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.INSTANCE, spatial_dims]
        convt, pad = Conv[Conv.CONVTRANS, spatial_dims], _reflection_pad(spatial_dims)
        layers: list[nn.Module] = [
            pad(3),
            conv(in_channels, base_channels, kernel_size=7),
            norm(base_channels),
            nn.ReLU(inplace=True),
        ]
        channels = base_channels
        for _ in range(num_downsamplings):
            layers += [conv(channels, channels * 2, 3, stride=2, padding=1), norm(channels * 2), nn.ReLU(inplace=True)]
            channels *= 2
        layers += [ResidualBlock(spatial_dims, channels) for _ in range(num_residual_blocks)]
        for _ in range(num_downsamplings):
            layers += [
                convt(channels, channels // 2, 3, stride=2, padding=1, output_padding=1),
                norm(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        layers += [pad(3), conv(channels, out_channels, kernel_size=7), Act[Act.TANH]()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

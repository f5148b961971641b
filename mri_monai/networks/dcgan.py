"""DCGAN generator and discriminator (Radford et al. 2016) for square images of any power-of-two size."""

from __future__ import annotations

import math

import torch
from monai.networks.layers import Conv, Norm
from torch import nn

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


def _stages(image_size: int) -> int:
    stages = int(math.log2(image_size)) - 2
    if image_size < 8 or 2 ** (stages + 2) != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return stages


class DCGANGenerator(nn.Module):
    """DCGAN generator: a latent vector up-sampled by stride-2 transposed convolutions with batch norm and ReLU.

    Radford et al., "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial
    Networks", ICLR 2016, https://arxiv.org/abs/1511.06434. The latent is projected to a 4^D map with
    ``base_channels * 2 ** (stages - 1)`` channels, then each stage halves the channels and doubles the size,
    down to ``base_channels`` at ``image_size / 2``; a last transposed convolution and ``tanh`` give the image.

    Args:
        latent_size: length L of the latent vector.
        out_channels: image channels C.
        image_size: side of the square (cubic) output, a power of two >= 8.
        base_channels: channels of the last hidden stage.
        spatial_dims: 2 or 3.

    Shapes: (B, L) or (B, L, 1, 1[, 1]) -> (B, C, image_size, image_size[, image_size]), values in [-1, 1].

    Example::

        net = DCGANGenerator(latent_size=128, image_size=128, base_channels=16)
        images = net(torch.randn(4, 128))  # (4, 1, 128, 128)
    """

    def __init__(
        self,
        latent_size: int = 128,
        out_channels: int = 1,
        image_size: int = 128,
        base_channels: int = 16,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        stages = _stages(image_size)
        convt, norm = Conv[Conv.CONVTRANS, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        channels = base_channels * 2 ** (stages - 1)
        layers: list[nn.Module] = [convt(latent_size, channels, 4, stride=1, padding=0, bias=False), norm(channels)]
        layers.append(nn.ReLU(inplace=True))
        for _ in range(stages - 1):
            layers += [convt(channels, channels // 2, 4, stride=2, padding=1, bias=False), norm(channels // 2)]
            layers.append(nn.ReLU(inplace=True))
            channels //= 2
        layers += [convt(channels, out_channels, 4, stride=2, padding=1), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.latent_size = latent_size
        self.singleton_dims = [1] * spatial_dims

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape([z.shape[0], self.latent_size] + self.singleton_dims)
        return self.model(z)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: stride-2 convolutions with batch norm and leaky ReLU down to 4^D, then one logit.

    With ``spectral_norm=True`` every convolution is spectrally normalised and batch norm is left out (the SNGAN
    discriminator of Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018,
    https://arxiv.org/abs/1802.05957): its Lipschitz bound keeps it from overpowering the generator.

    Args:
        in_channels: image channels C.
        image_size: side of the square (cubic) input, a power of two >= 8.
        base_channels: channels of the first stage, doubled at each stage.
        spatial_dims: 2 or 3.
        spectral_norm: spectral normalisation instead of batch norm.

    Shapes: (B, C, image_size, image_size[, image_size]) -> (B, 1) logits (no activation).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 128,
        base_channels: int = 16,
        spatial_dims: int = 2,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        stages = _stages(image_size)
        conv_type, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]

        def conv(c_in: int, c_out: int, stride: int, padding: int, bias: bool = True) -> nn.Module:
            layer = conv_type(c_in, c_out, 4, stride=stride, padding=padding, bias=bias)
            return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

        layers: list[nn.Module] = [conv(in_channels, base_channels, 2, 1), nn.LeakyReLU(0.2, True)]
        channels = base_channels
        for _ in range(stages - 1):
            layers.append(conv(channels, channels * 2, 2, 1, bias=spectral_norm))
            if not spectral_norm:
                layers.append(norm(channels * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels *= 2
        layers += [conv(channels, 1, 1, 0), nn.Flatten()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

"""Convolutional autoencoder with symmetric additive skip connections for denoising (Bermudez et al. 2018).

References:
    Bermudez C, Plassard AJ, Davis LT, Newton AT, Resnick SM, Landman BA. Learning implicit brain MRI manifolds with
    deep learning. Proc. SPIE Medical Imaging 2018: Image Processing, 10574:105741L.
    https://doi.org/10.1117/12.2293515

    Mao X-J, Shen C, Yang Y-B. Image restoration using very deep convolutional encoder-decoder networks with symmetric
    skip connections. NeurIPS 2016. https://arxiv.org/abs/1603.09056
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Act
from monai.networks.layers.utils import get_act_layer
from torch import nn

__all__ = ["SkipAutoencoder"]


class SkipAutoencoder(nn.Module):
    """Convolutional autoencoder whose encoder and decoder are joined by symmetric additive skip connections.

    The encoder is a chain of convolutions (each followed by normalisation, dropout and activation), one per level,
    with its own stride (``strides[i]``) and ``channels[i]`` output channels. The decoder mirrors it with transposed
    convolutions: the one undoing encoder level ``i`` maps ``channels[i]`` back to ``channels[i - 1]`` channels at
    the resolution of the output of encoder level ``i - 1``; that output is added to it and the sum goes through
    the activation (the symmetric additive skips of Bermudez et al. 2018 and Mao et al. 2016). The outermost pair
    of the symmetry is the input and the output: the last transposed convolution (no activation) returns to
    ``out_channels`` at the input's resolution and, with ``residual=True``, the input is added to it, so the network
    predicts the correction to its input (for denoising: minus the noise).

    Inputs of any spatial size are accepted: they are padded (edge values repeated) to a multiple of the product of
    ``strides`` and the output is cropped back.

    Args:
        spatial_dims: number of spatial dimensions, 2 (slices) or 3 (volumes).
        in_channels: number of input channels.
        out_channels: number of output channels; must equal ``in_channels`` when ``residual``.
        channels: output channels of each encoder level (the decoder mirrors them).
        strides: stride of each encoder level (the matching transposed convolution upsamples by the same factor).
        kernel_size: convolution kernel size.
        act: activation after every convolution but the last, and after every skip addition.
        norm: normalisation after every convolution but the last (``None``: none, as in the paper).
        dropout: dropout rate after every convolution but the last.
        residual: add the input to the output (the input-output skip connection).
        bias: learn additive biases in the convolutions. ``False`` with ``norm=None`` makes the network bias-free
            and so positively homogeneous, ``net(a * x) == a * net(x)`` for ``a > 0``: Mohan et al. (ICLR 2020)
            show that such denoisers generalise to noise levels outside their training range.

    Shapes:
        input: (B, in_channels, H, W[, D]); output: (B, out_channels, H, W[, D]), the same spatial size.

    Example::

        net = SkipAutoencoder(spatial_dims=2, in_channels=1, out_channels=1, channels=(32, 64, 64, 128))
        denoised = net(torch.rand(4, 1, 160, 192))  # (4, 1, 160, 192)
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int] = (32, 64, 64, 128),
        strides: Sequence[int] = (1, 2, 2, 2),
        kernel_size: int = 3,
        act: str | tuple = Act.RELU,
        norm: str | tuple | None = None,
        dropout: float = 0.0,
        residual: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if len(channels) < 1 or len(channels) != len(strides):
            raise ValueError(f"channels and strides need the same non-zero length, got {channels} and {strides}")
        if any(s < 1 for s in strides):
            raise ValueError(f"strides must be positive, got {strides}")
        if residual and in_channels != out_channels:
            raise ValueError(f"residual=True needs in_channels == out_channels, got {in_channels}, {out_channels}")
        self.spatial_dims = spatial_dims
        self.residual = residual
        self.multiple = 1
        for s in strides:
            self.multiple *= int(s)

        def conv(c_in: int, c_out: int, stride: int, transposed: bool, last: bool = False) -> Convolution:
            return Convolution(
                spatial_dims,
                c_in,
                c_out,
                strides=stride,
                kernel_size=kernel_size,
                act=None if last else act,
                norm=None if last else norm,
                dropout=None if last else dropout,
                is_transposed=transposed,
                conv_only=last,
                bias=bias,
            )

        levels = len(channels)
        self.encoder = nn.ModuleList(
            conv(in_channels if i == 0 else channels[i - 1], channels[i], strides[i], False) for i in range(levels)
        )
        # decoder[i] undoes encoder[levels - 1 - i]; its output is added to that encoder level's input
        self.decoder = nn.ModuleList(
            conv(channels[i], channels[i - 1], strides[i], True) for i in range(levels - 1, 0, -1)
        )
        self.head = conv(channels[0], out_channels, strides[0], True, last=True)
        self.skip_act = nn.ModuleList(get_act_layer(act) for _ in range(levels - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise ``x`` of shape (B, in_channels, *spatial) into (B, out_channels, *spatial)."""
        spatial = x.shape[2:]
        pad: list[int] = []
        for size in spatial:  # F.pad lists the last dimension first
            extra = (self.multiple - size % self.multiple) % self.multiple
            pad = [extra // 2, extra - extra // 2] + pad
        padded = F.pad(x, pad, mode="replicate") if sum(pad) > 0 else x
        features: list[torch.Tensor] = []
        h = padded
        for layer in self.encoder:
            features.append(h)
            h = layer(h)
        for i, (layer, act) in enumerate(zip(self.decoder, self.skip_act, strict=True)):
            h = act(layer(h) + features[len(features) - 1 - i])
        out = self.head(h)
        if self.residual:
            out = out + padded
        if sum(pad) > 0:
            if self.spatial_dims == 2:
                out = out[:, :, pad[2] : pad[2] + spatial[0], pad[0] : pad[0] + spatial[1]]
            else:
                out = out[
                    :, :, pad[4] : pad[4] + spatial[0], pad[2] : pad[2] + spatial[1], pad[0] : pad[0] + spatial[2]
                ]
        return out

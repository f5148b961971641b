"""Centred, orthonormal Fourier transforms on complex tensors.

k-space stays complex (``torch.complex64``) inside the package; the DC component sits at the
centre of the array, as in fastMRI and in MONAI's ``fftn_centered``. The transforms are unitary
(``norm="ortho"``), so image and k-space energies are equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["fftnc", "ifftnc", "fft2c", "ifft2c", "complex_to_channels", "channels_to_complex"]


def fftnc(x: torch.Tensor, dims: Sequence[int] = (-2, -1)) -> torch.Tensor:
    """Centred orthonormal forward FFT over ``dims``.

    Args:
        x: complex tensor of any shape, e.g. (coils, H, W) or (B, coils, D, H, W).
        dims: the spatial dimensions to transform.

    Returns:
        complex tensor of the same shape with the DC term at the centre of ``dims``.
    """
    dims = tuple(dims)
    x = torch.fft.ifftshift(x, dim=dims)
    x = torch.fft.fftn(x, dim=dims, norm="ortho")
    return torch.fft.fftshift(x, dim=dims)


def ifftnc(x: torch.Tensor, dims: Sequence[int] = (-2, -1)) -> torch.Tensor:
    """Centred orthonormal inverse FFT over ``dims`` (inverse of :func:`fftnc`)."""
    dims = tuple(dims)
    x = torch.fft.ifftshift(x, dim=dims)
    x = torch.fft.ifftn(x, dim=dims, norm="ortho")
    return torch.fft.fftshift(x, dim=dims)


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2D FFT over the last two dimensions (..., H, W)."""
    return fftnc(x, (-2, -1))


def ifft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2D inverse FFT over the last two dimensions (..., H, W)."""
    return ifftnc(x, (-2, -1))


def complex_to_channels(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Split a complex tensor into real and imaginary parts stacked along ``dim``.

    For network boundaries only: (B, C, H, W) complex -> (B, 2C, H, W) real with the
    real parts of all channels first, then the imaginary parts.
    """
    if not torch.is_complex(x):
        raise TypeError(f"expected a complex tensor, got {x.dtype}")
    return torch.cat([x.real, x.imag], dim=dim)


def channels_to_complex(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Inverse of :func:`complex_to_channels`: (B, 2C, H, W) real -> (B, C, H, W) complex."""
    if x.shape[dim] % 2:
        raise ValueError(f"dimension {dim} must hold real and imaginary halves, got size {x.shape[dim]}")
    real, imag = torch.chunk(x, 2, dim=dim)
    return torch.complex(real.contiguous(), imag.contiguous())

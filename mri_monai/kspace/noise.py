"""Complex Gaussian noise for simulated acquisitions."""

from __future__ import annotations

import torch

__all__ = ["noise_sigma_for_snr", "add_complex_noise"]


def noise_sigma_for_snr(image_magnitude: torch.Tensor, snr: float, mask: torch.Tensor | None = None) -> float:
    """Standard deviation of each real/imaginary noise part giving ``snr`` = mean signal / sigma.

    Args:
        image_magnitude: real tensor, the noiseless magnitude image.
        snr: target signal-to-noise ratio (linear, not dB) of the mean signal in ``mask``.
        mask: boolean tensor of the same shape selecting the signal region; default ``image > 0``.
    """
    if snr <= 0:
        raise ValueError(f"snr must be positive, got {snr}")
    mask = image_magnitude > 0 if mask is None else mask
    signal = image_magnitude[mask].mean() if mask.any() else image_magnitude.abs().mean()
    return float(signal) / snr


def add_complex_noise(data: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add independent Gaussian noise with std ``sigma`` to the real and imaginary parts.

    With orthonormal FFTs, noise added in k-space has the same ``sigma`` in image space.

    Args:
        data: complex tensor of any shape (not modified).
        sigma: standard deviation of each part.
        generator: torch generator for deterministic noise.

    Returns:
        a new complex tensor of the same shape and dtype.
    """
    if not torch.is_complex(data):
        raise TypeError(f"expected complex data, got {data.dtype}")
    real_dtype = data.real.dtype
    noise = torch.complex(
        torch.randn(data.shape, generator=generator, dtype=real_dtype),
        torch.randn(data.shape, generator=generator, dtype=real_dtype),
    )
    return data + sigma * noise.to(data.device)

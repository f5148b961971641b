"""Simulated acquisitions: per-slice multi-coil and single-coil k-space of a synthetic image.

Axial slices of an (X, Y, Z) volume are laid out as fastMRI images (H, W) = (Y flipped, X), i.e.
anterior at the top and the phase-encode direction (W) left-right; :func:`slices_to_volume` undoes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..kspace import (
    add_complex_noise,
    fft2c,
    ifft2c,
    noise_sigma_for_snr,
    rss,
    sensitivity_expand,
    simulate_coil_sensitivities,
)

__all__ = ["KspaceAcquisition", "volume_to_slices", "slices_to_volume", "smooth_phase", "simulate_kspace"]


@dataclass
class KspaceAcquisition:
    """Simulated k-space of a slab of axial slices.

    Attributes:
        kspace: complex64 (S, C, H, W) multi-coil, or (S, H, W) single-coil.
        reconstruction_rss: float32 (S, H, W), RSS (magnitude for single-coil) of the fully sampled noisy data.
        sensitivities: complex64 (C, H, W) true coil maps (None for single-coil).
        sigma: noise standard deviation of each real/imaginary part.
    """

    kspace: np.ndarray
    reconstruction_rss: np.ndarray
    sensitivities: np.ndarray | None
    sigma: float


def volume_to_slices(volume: np.ndarray) -> np.ndarray:
    """(X, Y, Z) -> (Z, H, W) = (Z, Y flipped, X): axial slices with anterior at the top."""
    return np.ascontiguousarray(np.transpose(volume, (2, 1, 0))[:, ::-1, :])


def slices_to_volume(slices: np.ndarray) -> np.ndarray:
    """Inverse of :func:`volume_to_slices`: (Z, H, W) -> (X, Y, Z)."""
    return np.ascontiguousarray(np.transpose(slices[:, ::-1, :], (2, 1, 0)))


def smooth_phase(shape: Sequence[int], rng: np.random.Generator, max_rad: float = np.pi / 2) -> np.ndarray:
    """A smooth random background phase (radians), float32 of ``shape`` (..., H, W): low-order polynomial."""
    h, w = shape[-2:]
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    c = rng.uniform(-1, 1, 6)
    phase = c[0] + c[1] * x + c[2] * y + c[3] * x * y + c[4] * x**2 + c[5] * y**2
    phase *= max_rad / max(np.abs(phase).max(), 1e-12)
    return np.broadcast_to(phase, tuple(shape)).astype(np.float32)


def simulate_kspace(
    slices: np.ndarray,
    num_coils: int,
    snr: float | None,
    seed: int,
    phase: bool = True,
    coil_distance: float = 1.5,
    max_phase: float = np.pi / 2,
) -> KspaceAcquisition:
    """Multi-coil (``num_coils`` > 1) or single-coil k-space of magnitude slices.

    The complex object is ``slices * exp(i phase)``; coil images are ``S_c x`` with maps normalised
    to ``sum |S_c|^2 = 1`` (so the noiseless RSS equals the magnitude); complex Gaussian noise of std
    ``sigma = mean brain signal / snr`` is added in k-space (none when ``snr`` is None: noiseless k-space, whose
    RSS is the magnitude, for training with noise drawn on the fly).

    Args:
        slices: float (S, H, W) magnitude images.
        num_coils: 1 for single-coil k-space (S, H, W), otherwise (S, C, H, W).
        snr: mean signal over non-zero pixels divided by the noise std; None for no noise.
        seed: makes coil maps, phase and noise.
        phase: add a smooth background phase per slab.
        coil_distance: coil array radius (see :func:`~mri_monai.kspace.simulate_coil_sensitivities`).
        max_phase: largest background phase, radians.
    """
    if slices.ndim != 3:
        raise ValueError(f"expected (S, H, W) slices, got shape {slices.shape}")
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    mag = torch.from_numpy(np.ascontiguousarray(slices, dtype=np.float32))
    ph = torch.from_numpy(smooth_phase(slices.shape, rng, max_phase)) if phase else torch.zeros_like(mag)
    obj = torch.polar(mag, ph)
    sigma = 0.0 if snr is None else noise_sigma_for_snr(mag, snr)
    if num_coils == 1:
        kspace = add_complex_noise(fft2c(obj), sigma, generator) if sigma > 0 else fft2c(obj)
        recon = ifft2c(kspace).abs()
        return KspaceAcquisition(kspace.numpy(), recon.numpy().astype(np.float32), None, sigma)
    sens = simulate_coil_sensitivities(
        tuple(slices.shape[-2:]), num_coils, coil_distance, seed=int(rng.integers(2**31))
    )
    coil_images = sensitivity_expand(obj, sens, dim=1)  # (S, C, H, W)
    kspace = add_complex_noise(fft2c(coil_images), sigma, generator) if sigma > 0 else fft2c(coil_images)
    recon = rss(ifft2c(kspace), dim=1)
    return KspaceAcquisition(kspace.numpy(), recon.numpy().astype(np.float32), sens.numpy(), sigma)

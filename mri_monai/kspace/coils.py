"""Simulated receive-coil sensitivities and coil combination."""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["simulate_coil_sensitivities", "rss", "sensitivity_combine", "sensitivity_expand"]


def simulate_coil_sensitivities(
    shape: tuple[int, int],
    num_coils: int,
    coil_distance: float = 1.5,
    seed: int | None = None,
) -> torch.Tensor:
    """Smooth complex sensitivities of a circular array of loop coils around the field of view.

    Each coil sits on a circle of radius ``coil_distance`` (in units of half the field of view)
    and sees a magnitude that falls off with distance, ``1 / (1 + (d / 0.5)^2)``, with a phase that
    varies smoothly across the image (as in birdcage-style simulations used by sigpy and BART).
    The maps are normalised so that ``sum_c |S_c|^2 = 1`` at every pixel, which makes the
    root-sum-of-squares of the noiseless coil images equal to the image magnitude.

    Args:
        shape: (H, W) of the image.
        num_coils: number of coils C >= 1.
        coil_distance: coil radius relative to half the field of view.
        seed: random seed for the array's rotation and the phase offsets (deterministic).

    Returns:
        complex64 tensor of shape (C, H, W).
    """
    if num_coils < 1:
        raise ValueError(f"num_coils must be >= 1, got {num_coils}")
    rng = np.random.default_rng(seed)
    height, width = shape
    y, x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    rotation = rng.uniform(0, 2 * math.pi)
    maps = []
    for c in range(num_coils):
        angle = rotation + 2 * math.pi * c / num_coils
        cy, cx = coil_distance * math.sin(angle), coil_distance * math.cos(angle)
        dist = np.hypot(y - cy, x - cx)
        magnitude = 1.0 / (1.0 + (dist / 0.5) ** 2)
        phase = rng.uniform(-math.pi, math.pi) + math.pi / 2 * ((x - cx) * math.sin(angle) - (y - cy) * math.cos(angle))
        maps.append(magnitude * np.exp(1j * phase))
    sens = np.stack(maps)
    sens /= np.sqrt((np.abs(sens) ** 2).sum(axis=0, keepdims=True))
    return torch.from_numpy(sens.astype(np.complex64))


def rss(coil_images: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Root-sum-of-squares coil combination.

    Args:
        coil_images: complex or real tensor with the coils along ``dim``, e.g. (C, H, W).
        dim: the coil dimension.

    Returns:
        real tensor with ``dim`` removed.
    """
    return torch.sqrt((coil_images.abs() ** 2).sum(dim=dim))


def sensitivity_combine(coil_images: torch.Tensor, sens: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Sensitivity-weighted (SENSE-1) combination ``sum_c conj(S_c) x_c``; complex result without ``dim``."""
    return (sens.conj() * coil_images).sum(dim=dim)


def sensitivity_expand(image: torch.Tensor, sens: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Coil images ``S_c x`` from a complex image; ``image`` broadcasts against ``sens`` after unsqueezing ``dim``."""
    return sens * image.unsqueeze(dim)

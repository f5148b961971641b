"""Synthetic brain tumours: necrotic core, enhancing rim and oedema, labelled as in BraTS.

Labels follow the convention MONAI's ``ConvertToMultiChannelBasedOnBratsClasses`` reads:
1 necrotic/non-enhancing core (NCR), 2 peritumoural oedema (ED), 4 enhancing tumour (ET).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["NCR", "ED", "ET", "TumourMaps", "random_tumour"]

NCR, ED, ET = 1, 2, 4


@dataclass(frozen=True)
class TumourMaps:
    """Compartment fractions (float32, (X, Y, Z), summing to at most 1), the BraTS label map (uint8), and the
    enhancement map (float32 in [0, 1]: the part of the enhancing compartment that takes up gadolinium)."""

    necrosis: np.ndarray
    enhancing: np.ndarray
    oedema: np.ndarray
    labels: np.ndarray
    enhancement: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.necrosis + self.enhancing + self.oedema


def random_tumour(
    brain_mask: np.ndarray,
    white_matter: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    oedema_radius_mm: tuple[float, float] = (18.0, 30.0),
    infiltration: float = 0.6,
) -> TumourMaps:
    """A random irregular tumour centred in white matter, away from the brain's edge.

    The outer (oedema) surface is an ellipsoid of random axes in ``oedema_radius_mm`` whose radius is
    modulated by smooth noise (about +-15 %); the enhancing rim occupies 45-65% and the necrotic core 60-80% of the
    next-larger radius. Oedema is confined to the brain mask.

    Tumours are not uniform: the oedema's density falls from 1 at the enhancing rim to ``1 - infiltration`` at its
    outer edge (infiltrating oedema mixed with normal tissue), modulated by smooth noise (+-15 %), and the
    enhancement (gadolinium uptake) varies smoothly between 0.35 and 1 across the enhancing compartment.

    Args:
        brain_mask: (X, Y, Z) brain fraction or mask.
        white_matter: (X, Y, Z) WM fraction, where the centre is drawn.
        voxel_size: mm per voxel along each axis.
        rng: numpy random generator.
        oedema_radius_mm: range of the oedema's mean radius.
        infiltration: how much the oedema's density falls towards its outer edge (0: uniform).
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    inside = ndimage.distance_transform_edt(brain_mask > 0.5, sampling=vs)
    candidates = np.argwhere((white_matter > 0.6) & (inside > 0.6 * oedema_radius_mm[0]))
    if len(candidates) == 0:
        raise ValueError("no white-matter voxel is deep enough inside the brain for a tumour of this size")
    centre = candidates[rng.integers(len(candidates))]
    radius = rng.uniform(*oedema_radius_mm) * rng.uniform(0.8, 1.2, 3)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in brain_mask.shape], indexing="ij")).astype(np.float64)
    offset = (grid - centre[:, None, None, None]) * vs[:, None, None, None] / radius[:, None, None, None]
    rho = np.sqrt((offset**2).sum(axis=0))
    wobble = ndimage.gaussian_filter(rng.standard_normal(brain_mask.shape), 5.0 / vs.mean())
    rho = rho * np.clip(1.0 + 0.15 * wobble / max(wobble.std(), 1e-12), 0.5, 1.5)
    r_enh = rng.uniform(0.45, 0.65)
    r_core = r_enh * rng.uniform(0.6, 0.8)
    labels = np.zeros(brain_mask.shape, dtype=np.uint8)
    labels[(rho < 1.0) & (brain_mask > 0.5)] = ED
    labels[rho < r_enh] = ET
    labels[rho < r_core] = NCR

    def fraction(label: int) -> np.ndarray:
        return np.clip(ndimage.gaussian_filter((labels == label).astype(np.float32), 0.5), 0.0, 1.0)

    necrosis, enhancing, oedema = fraction(NCR), fraction(ET), fraction(ED)
    outward = np.clip((rho - r_enh) / (1.0 - r_enh), 0.0, 1.0)
    density = (1.0 - infiltration * outward) * np.clip(1.0 + 0.15 * _smooth_noise(brain_mask.shape, vs, rng), 0.5, 1.5)
    oedema = oedema * np.clip(density, 0.0, 1.0).astype(np.float32)
    enhancement = np.clip(0.675 + 0.325 * _smooth_noise(brain_mask.shape, vs, rng), 0.35, 1.0).astype(np.float32)
    total = necrosis + enhancing + oedema
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)
    return TumourMaps(
        necrosis=(necrosis * scale).astype(np.float32),
        enhancing=(enhancing * scale).astype(np.float32),
        oedema=(oedema * scale * (brain_mask > 0)).astype(np.float32),
        labels=labels,
        enhancement=enhancement,
    )


def _smooth_noise(shape: Sequence[int], voxel_size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth Gaussian noise (4 mm scale) of unit standard deviation, float32 (X, Y, Z)."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 4.0 / voxel_size.mean())
    return (noise / max(noise.std(), 1e-12)).astype(np.float32)

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
    """Compartment fractions (float32, (X, Y, Z), summing to at most 1) and the BraTS label map (uint8)."""

    necrosis: np.ndarray
    enhancing: np.ndarray
    oedema: np.ndarray
    labels: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.necrosis + self.enhancing + self.oedema


def random_tumour(
    brain_mask: np.ndarray,
    white_matter: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    oedema_radius_mm: tuple[float, float] = (18.0, 30.0),
) -> TumourMaps:
    """A random irregular tumour centred in white matter, away from the brain's edge.

    The outer (oedema) surface is an ellipsoid of random axes in ``oedema_radius_mm`` whose radius is
    modulated by smooth noise (about +-15 %); the enhancing rim occupies 45-65% and the necrotic core 60-80% of the
    next-larger radius. Oedema is confined to the brain mask.

    Args:
        brain_mask: (X, Y, Z) brain fraction or mask.
        white_matter: (X, Y, Z) WM fraction, where the centre is drawn.
        voxel_size: mm per voxel along each axis.
        rng: numpy random generator.
        oedema_radius_mm: range of the oedema's mean radius.
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
    total = necrosis + enhancing + oedema
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)
    return TumourMaps(
        necrosis=(necrosis * scale).astype(np.float32),
        enhancing=(enhancing * scale).astype(np.float32),
        oedema=(oedema * scale * (brain_mask > 0)).astype(np.float32),
        labels=labels,
    )

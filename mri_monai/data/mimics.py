"""Tumour mimics: structures that look like parts of a glioma on one contrast but are not tumour (never labelled).

- White-matter hyperintensities, bright on FLAIR and T2 like oedema: caps at the tips of the lateral ventricles'
  frontal and occipital horns, sometimes a thin lining along the ventricles, and small punctate or confluent deep
  lesions (small-vessel disease, common in the age group of glioma patients).
- Enhancing structures, bright on T1 post-contrast like enhancing tumour: veins (thin tubes along random smooth
  paths, mostly at the brain's surface) and the choroid plexus in the atria of the lateral ventricles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .randomise import texture_field

__all__ = [
    "MimicMaps",
    "ventricles",
    "periventricular_caps",
    "punctate_hyperintensities",
    "enhancing_vessels",
    "choroid_plexus",
    "random_mimics",
]


@dataclass(frozen=True)
class MimicMaps:
    """Fractions (float32 (X, Y, Z) in [0, 1]) of the mimics of one subject.

    Attributes:
        hyperintensities: FLAIR/T2-bright white-matter lesions (periventricular caps and lining, punctate lesions).
        vessels: enhancing veins.
        choroid_plexus: enhancing choroid plexus inside the ventricles.
    """

    hyperintensities: np.ndarray
    vessels: np.ndarray
    choroid_plexus: np.ndarray


def ventricles(csf: np.ndarray, brain: np.ndarray, voxel_size: Sequence[float], depth_mm: float = 12.0) -> np.ndarray:
    """The ventricles: voxels more than half CSF, deeper than ``depth_mm`` inside the brain, in components of at least
    300 mm^3 (sulcal CSF is near the surface and thin).

    Args:
        csf: float (X, Y, Z) CSF fraction.
        brain: bool (X, Y, Z) brain mask.
        voxel_size: mm per axis.
        depth_mm: how deep a ventricle voxel is at least.

    Returns:
        bool (X, Y, Z).
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    deep = (csf > 0.5) & (ndimage.distance_transform_edt(brain, sampling=vs) > depth_mm)
    components, count = ndimage.label(deep)
    if count == 0:
        return deep
    sizes = ndimage.sum_labels(deep, components, index=np.arange(1, count + 1)) * float(np.prod(vs))
    return np.isin(components, 1 + np.flatnonzero(sizes >= 300.0))


def _blob(
    shape: Sequence[int], centre: np.ndarray, radius_mm: float, vs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A soft irregular ball (float32 (X, Y, Z) fraction in [0, 1]) of mean radius ``radius_mm`` at ``centre``."""
    box = tuple(
        slice(max(0, int(c - radius_mm * 2 / v) - 1), min(s, int(c + radius_mm * 2 / v) + 2))
        for c, v, s in zip(centre, vs, shape, strict=True)
    )
    out = np.zeros(tuple(shape), dtype=np.float32)
    grid = np.ogrid[box]
    axes = radius_mm * rng.uniform(0.7, 1.3, 3)
    rho = np.sqrt(sum(((g - c) * v / a) ** 2 for g, c, v, a in zip(grid, centre, vs, axes, strict=True)))
    local_shape = tuple(b.stop - b.start for b in box)
    rho = rho * (1.0 + 0.2 * texture_field(local_shape, rng, 1.0))
    out[box] = np.clip((1.0 - rho) * radius_mm / vs.mean() + 0.5, 0.0, 1.0)
    return out


def _hemispheres(mask: np.ndarray, brain: np.ndarray) -> list[np.ndarray]:
    """``mask`` split into its left and right halves at the brain's centre (along the first axis)."""
    middle = int(round(np.argwhere(brain)[:, 0].mean()))
    left, right = mask.copy(), mask.copy()
    left[middle:] = False
    right[:middle] = False
    return [left, right]


def periventricular_caps(
    ventricle_mask: np.ndarray,
    brain: np.ndarray,
    white_matter: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    radius_mm: tuple[float, float] = (2.5, 7.0),
) -> np.ndarray:
    """Hyperintense caps at the anterior and posterior tips of each lateral ventricle, in white matter, and with
    probability 1/2 a thin (1-2.5 mm) lining along the ventricles.

    Args:
        ventricle_mask: bool (X, Y, Z), from :func:`ventricles`.
        brain: bool (X, Y, Z) brain mask.
        white_matter: float (X, Y, Z) WM fraction (the caps take the place of white matter).
        voxel_size: mm per axis.
        rng: the subject's generator.
        radius_mm: range of each cap's radius.

    Returns:
        float32 (X, Y, Z) fraction.
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    caps = np.zeros(brain.shape, dtype=np.float32)
    for side in _hemispheres(ventricle_mask, brain):
        points = np.argwhere(side)
        if len(points) == 0:
            continue
        for tip in (points[np.argmax(points[:, 1])], points[np.argmin(points[:, 1])]):  # anterior (+y), posterior
            if rng.random() < 0.8:
                caps = np.maximum(caps, _blob(brain.shape, tip.astype(np.float64), rng.uniform(*radius_mm), vs, rng))
    if rng.random() < 0.5:
        distance = ndimage.distance_transform_edt(~ventricle_mask, sampling=vs)
        lining = np.clip(rng.uniform(1.0, 2.5) - distance + 1.0, 0.0, 1.0) * (distance > 0)
        caps = np.maximum(caps, lining.astype(np.float32))
    return (caps * np.clip(white_matter * 1.5, 0.0, 1.0) * ~ventricle_mask).astype(np.float32)


def punctate_hyperintensities(
    brain: np.ndarray,
    white_matter: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    max_count: int = 15,
    radius_mm: tuple[float, float] = (1.5, 4.5),
) -> np.ndarray:
    """Small deep white-matter lesions (0 to ``max_count``; one in ten of them confluent, up to twice as large).

    Returns:
        float32 (X, Y, Z) fraction, in white matter.
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    deep_wm = np.argwhere((white_matter > 0.7) & (ndimage.distance_transform_edt(brain, sampling=vs) > 8.0))
    out = np.zeros(brain.shape, dtype=np.float32)
    if len(deep_wm) == 0:
        return out
    for _ in range(int(rng.integers(0, max_count + 1))):
        radius = rng.uniform(*radius_mm) * (2.0 if rng.random() < 0.1 else 1.0)
        centre = deep_wm[rng.integers(len(deep_wm))].astype(np.float64)
        out = np.maximum(out, _blob(brain.shape, centre, radius, vs, rng))
    return (out * np.clip(white_matter * 1.5, 0.0, 1.0)).astype(np.float32)


def _smooth_path(
    start: np.ndarray, brain: np.ndarray, vs: np.ndarray, rng: np.random.Generator, length_mm: float
) -> np.ndarray:
    """Points (N, 3), voxels, of a random smooth path from ``start`` in steps of half a voxel, until it leaves the
    brain or reaches ``length_mm``."""
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    step_mm = 0.5 * float(vs.min())
    points, point = [], start.astype(np.float64)
    for _ in range(int(length_mm / step_mm)):
        index = tuple(np.round(point).astype(int))
        if any(i < 0 or i >= s for i, s in zip(index, brain.shape, strict=True)) or not brain[index]:
            break
        points.append(point.copy())
        direction = direction + 0.15 * rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        point = point + direction * step_mm / vs
    return np.asarray(points).reshape(-1, 3)


def enhancing_vessels(
    brain: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    count: tuple[int, int] = (3, 10),
    radius_mm: tuple[float, float] = (0.75, 2.0),
) -> np.ndarray:
    """Veins: tubes of random radius along random smooth paths 20-70 mm long, three in four starting within 6 mm of
    the brain's surface (cortical veins), the others deep.

    Returns:
        float32 (X, Y, Z) fraction (partial volume of the tube in each voxel, approximately).
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    depth = ndimage.distance_transform_edt(brain, sampling=vs)
    superficial, deep = np.argwhere((depth > 1.0) & (depth < 6.0)), np.argwhere(depth > 20.0)
    centreline = np.zeros(brain.shape, dtype=np.float32)  # the tube radius on its centreline voxels, 0 elsewhere
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        starts = superficial if (rng.random() < 0.75 or len(deep) == 0) else deep
        if len(starts) == 0:
            break
        path = _smooth_path(starts[rng.integers(len(starts))], brain, vs, rng, rng.uniform(20.0, 70.0))
        index = tuple(np.round(path).astype(int).T)
        centreline[index] = np.maximum(centreline[index], rng.uniform(*radius_mm))
    on_path = centreline > 0
    if not on_path.any():
        return centreline
    distance, nearest = ndimage.distance_transform_edt(~on_path, sampling=vs, return_indices=True)
    radius = centreline[tuple(nearest)]
    # the fraction of a voxel inside a tube: 1 on the axis of a thick tube, the tube's share of a voxel on a thin one
    share = np.clip(np.pi * radius**2 / float(vs[0] * vs[1]), 0.0, 1.0)
    return (np.clip(radius - distance + 0.5 * float(vs.mean()), 0.0, 1.0) * share * brain).astype(np.float32)


def choroid_plexus(
    ventricle_mask: np.ndarray, brain: np.ndarray, voxel_size: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """The choroid plexus glomus in the atrium of each lateral ventricle: a blob of 3-6 mm radius at the centre of
    the ventricle's posterior 40 %, inside the ventricle.

    Returns:
        float32 (X, Y, Z) fraction.
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    out = np.zeros(brain.shape, dtype=np.float32)
    inside = ndimage.binary_dilation(ventricle_mask)
    for side in _hemispheres(ventricle_mask, brain):
        points = np.argwhere(side)
        if len(points) == 0:
            continue
        y_low, y_high = points[:, 1].min(), points[:, 1].max()
        atrium = points[points[:, 1] <= y_low + 0.4 * (y_high - y_low)]
        centre = atrium.mean(axis=0)
        out = np.maximum(out, _blob(brain.shape, centre, rng.uniform(3.0, 6.0), vs, rng))
    return (out * inside).astype(np.float32)


def random_mimics(
    brain: np.ndarray,
    white_matter: np.ndarray,
    csf: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    avoid: np.ndarray | None = None,
    margin_mm: float = 10.0,
) -> MimicMaps:
    """All the mimics of one subject (see the module docstring), kept ``margin_mm`` away from ``avoid``.

    Args:
        brain: bool (X, Y, Z) brain mask.
        white_matter, csf: float (X, Y, Z) fractions (after any mass effect).
        voxel_size: mm per axis.
        rng: the subject's generator.
        avoid: bool (X, Y, Z), e.g. the tumour (labels > 0): a hyperintensity touching the oedema would be part of
            it for any reader, so mimics stay ``margin_mm`` away.
        margin_mm: distance kept from ``avoid``.

    Example::

        mimics = random_mimics(brain, wm, csf, (2.0, 2.0, 2.0), np.random.default_rng(0), avoid=labels > 0)
        mimics.hyperintensities.max()  # about 1
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    ventricle_mask = ventricles(csf, brain, vs)
    hyper = np.maximum(
        periventricular_caps(ventricle_mask, brain, white_matter, vs, rng),
        punctate_hyperintensities(brain, white_matter, vs, rng),
    )
    vessels = enhancing_vessels(brain, vs, rng)
    plexus = choroid_plexus(ventricle_mask, brain, vs, rng)
    if avoid is not None and avoid.any():
        keep = (ndimage.distance_transform_edt(~avoid, sampling=vs) > margin_mm).astype(np.float32)
        hyper, vessels, plexus = hyper * keep, vessels * keep, plexus * keep
    return MimicMaps(hyperintensities=hyper, vessels=vessels, choroid_plexus=plexus)

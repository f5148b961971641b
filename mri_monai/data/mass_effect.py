"""Mass effect: a growing lesion pushes the surrounding brain away instead of only replacing it.

Each lesion adds a volume ``V = 4/3 pi r_b^3`` (``r_b`` its "bulk radius") at its centre. Outside a ball of that
volume the tissue is pushed radially outwards, conserving volume: tissue first at distance ``r0`` from the centre ends
at ``r = (r0^3 + r_b^3)^(1/3)``, so a neighbouring ventricle is shifted and flattened on the lesion's side. The skull
does not move: the displacement is tapered to zero at the brain's edge, which compresses the tissue between the
lesion and the skull (sulci and ventricles near a large lesion narrow). Fields follow MONAI's ``Warp`` convention as
in :mod:`.deformation`: output voxel ``p`` samples the input at ``p + ddf[:, p]`` (voxels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

from .deformation import warp

__all__ = ["mass_effect_field", "displace_tissue"]


def _radial_pull(shape: Sequence[int], centre: np.ndarray, bulk_radius_mm: float, vs: np.ndarray) -> np.ndarray:
    """The pull-back displacement of one lesion (float32 (3, X, Y, Z), voxels): voxel ``p`` at distance ``r`` mm
    from ``centre`` samples the point on the same ray at ``(max(r^3 - r_b^3, 0))^(1/3)``."""
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    offset_mm = [(g - c) * v for g, c, v in zip(grid, centre, vs, strict=True)]
    r = np.sqrt(sum(o**2 for o in offset_mm))
    r0 = np.cbrt(np.maximum(r**3 - bulk_radius_mm**3, 0.0))
    ratio = np.where(r > 0, r0 / np.maximum(r, 1e-9), 0.0) - 1.0
    return np.stack([np.broadcast_to(ratio * o / v, tuple(shape)) for o, v in zip(offset_mm, vs, strict=True)])


def mass_effect_field(
    brain: np.ndarray,
    centres: Sequence[np.ndarray],
    bulk_radii_mm: Sequence[float],
    voxel_size: Sequence[float],
    taper_mm: float = 12.0,
) -> np.ndarray:
    """The displacement of the brain around lesions of the given bulk radii (see the module docstring).

    Args:
        brain: bool (X, Y, Z) brain mask (it does not move).
        centres: voxel coordinates (3,) of each lesion's centre.
        bulk_radii_mm: each lesion's bulk radius (the radius of the volume it adds), mm; 0 for no mass effect.
        voxel_size: mm per axis.
        taper_mm: the displacement rises from 0 at the brain's edge to its full value ``taper_mm`` inside.

    Returns:
        float32 (3, X, Y, Z) displacement in voxels (MONAI ``Warp`` convention), zero outside the brain. The fields of
        several lesions are added.

    Example::

        ddf = mass_effect_field(brain, [np.array([40.0, 60.0, 50.0])], [12.0], (2.0, 2.0, 2.0))
        displaced = displace_tissue({"csf": csf, "gm": gm, "wm": wm}, ddf)
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    if len(centres) != len(bulk_radii_mm):
        raise ValueError(f"need one bulk radius per centre, got {len(bulk_radii_mm)} for {len(centres)}")
    field = np.zeros((3, *brain.shape), dtype=np.float64)
    for centre, radius in zip(centres, bulk_radii_mm, strict=True):
        if radius > 0:
            field += _radial_pull(brain.shape, np.asarray(centre, dtype=np.float64), float(radius), vs)
    depth = ndimage.distance_transform_edt(brain, sampling=vs)
    taper = np.clip(depth / max(taper_mm, 1e-6), 0.0, 1.0)
    taper = taper * taper * (3.0 - 2.0 * taper)  # smoothstep: no kink where the taper ends
    return (field * taper).astype(np.float32)


def displace_tissue(fractions: Mapping[str, np.ndarray], ddf: np.ndarray) -> dict[str, np.ndarray]:
    """Warp tissue fractions through ``ddf`` (MONAI ``Warp``, bilinear), keeping their total per voxel.

    The brain's outline does not move, so each voxel keeps its total tissue fraction (its partial volume at the brain's
    edge) and takes its mix of tissues from where the field points; voxels the field leaves empty keep their tissues.

    Args:
        fractions: name -> float (X, Y, Z) fraction (e.g. GM, WM, CSF, summing to the brain mask).
        ddf: (3, X, Y, Z) displacement in voxels, from :func:`mass_effect_field`.

    Returns:
        name -> float32 (X, Y, Z) displaced fraction.
    """
    names = list(fractions)
    before = np.stack([np.asarray(fractions[n], dtype=np.float32) for n in names])
    warped = np.clip(warp(before, ddf), 0.0, None)
    total_before, total_after = before.sum(axis=0), warped.sum(axis=0)
    moved = total_after > 1e-6
    out = np.where(moved, warped * (total_before / np.where(moved, total_after, 1.0)), before)
    return {n: o.astype(np.float32) for n, o in zip(names, out, strict=True)}

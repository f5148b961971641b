"""Glioma-like lesions with the difficulties of real ones: irregular, non-concentric compartments, patchy or absent
enhancement, off-centre necrosis, satellite foci and multifocal disease, labelled in the BraTS convention.

A lesion is made in two steps, so that the tissue around it can be displaced first (:mod:`.mass_effect`):
:func:`plan_lesions` draws where the lesions are and how big (from the undisplaced anatomy), and
:func:`draw_glioma` draws their compartments on the displaced anatomy.

Compartments of one lesion (each a level set of a smooth random field, not a shell of the previous one):

- tumour core (TC): an ellipsoid whose radius is modulated by coarse and fine smooth noise (lobulated, irregular);
- enhancing tumour (ET, label 4): ``"rim"`` (a band of random thickness at the core's edge that enhances only where
  a smooth random field is high, so that the rim is partial), ``"patchy"`` (scattered nodules inside the core) or
  ``"none"`` (no enhancing part, as in most low-grade gliomas);
- necrosis (label 1): a blob whose centre is offset from the core's, inside the core and not enhancing;
- non-enhancing tumour (label 1, with necrosis: BraTS 2020's "necrotic and non-enhancing tumour core"): the rest of
  the core;
- oedema (ED, label 2): within a distance of the core that varies along its surface (a smooth random field) and is
  longer in white matter than in grey matter (vasogenic oedema spreads along white-matter tracts and spares the
  cortex), with an infiltration density that falls towards its edge.

Satellites are small lesions near the main one (part of the tumour, labelled); a second lesion is a full lesion
elsewhere in the brain (multifocal glioma).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from .randomise import texture_field
from .tumour import ED, ET, NCR

__all__ = ["ENHANCEMENT_PATTERNS", "LesionPlan", "GliomaMaps", "plan_lesions", "draw_glioma"]

#: the enhancement patterns of a lesion.
ENHANCEMENT_PATTERNS = ("rim", "patchy", "none")


@dataclass(frozen=True)
class LesionPlan:
    """Where one lesion is and how big, drawn before the compartments.

    Attributes:
        centre: voxel coordinates (3,) of the core's centre.
        radius_mm: mean radius of the core, mm.
        axes: relative semi-axes (3,) of the core's ellipsoid (mean about 1).
        enhancement: one of :data:`ENHANCEMENT_PATTERNS`.
        necrosis: the lesion has a necrotic part.
        oedema_mm: mean reach of the oedema beyond the core, mm (in white matter).
        satellite: a satellite focus of another lesion.
    """

    centre: np.ndarray
    radius_mm: float
    axes: np.ndarray
    enhancement: str
    necrosis: bool
    oedema_mm: float
    satellite: bool = False


@dataclass(frozen=True)
class GliomaMaps:
    """The compartments of all the lesions of one subject.

    Attributes:
        necrosis, non_enhancing, enhancing, oedema: float32 (X, Y, Z) fractions with partial volume at the edges,
            summing to at most 1 (the oedema's fraction is its infiltration density: the rest is the tissue it
            infiltrates).
        labels: uint8 (X, Y, Z) BraTS labels: 1 necrosis and non-enhancing tumour, 2 oedema, 4 enhancing tumour.
        enhancement: float32 (X, Y, Z) gadolinium uptake in [0, 1] of the enhancing compartment.
        plans: the lesions drawn, satellites included.
    """

    necrosis: np.ndarray
    non_enhancing: np.ndarray
    enhancing: np.ndarray
    oedema: np.ndarray
    labels: np.ndarray
    enhancement: np.ndarray
    plans: tuple[LesionPlan, ...]

    @property
    def total(self) -> np.ndarray:
        """float32 (X, Y, Z): the tumour's total fraction."""
        return self.necrosis + self.non_enhancing + self.enhancing + self.oedema


def _pick_centre(
    allowed: np.ndarray, rng: np.random.Generator, away_from: Sequence[np.ndarray] = (), min_distance: float = 0.0
) -> np.ndarray | None:
    """A random voxel (float64 (3,)) of ``allowed`` at least ``min_distance`` voxels from every point of
    ``away_from``; None if there is none."""
    candidates = np.argwhere(allowed)
    for point in away_from:
        candidates = candidates[np.linalg.norm(candidates - point, axis=1) >= min_distance]
    if len(candidates) == 0:
        return None
    return candidates[rng.integers(len(candidates))].astype(np.float64)


def _draw_plan(
    centre: np.ndarray, radius_mm: float, rng: np.random.Generator, no_enhancement: float, satellite: bool = False
) -> LesionPlan:
    """A lesion's size, shape, enhancement pattern, necrosis and oedema reach at ``centre``."""
    if rng.random() < no_enhancement:
        enhancement = "none"
    else:
        enhancement = "rim" if rng.random() < (0.4 if satellite else 0.65) else "patchy"
    necrosis = enhancement != "none" and not satellite and rng.random() < 0.75
    oedema_mm = rng.uniform(2.0, 8.0) if satellite else rng.uniform(3.0, 14.0 if enhancement == "none" else 26.0)
    return LesionPlan(
        centre=centre,
        radius_mm=float(radius_mm),
        axes=rng.uniform(0.7, 1.3, 3),
        enhancement=enhancement,
        necrosis=necrosis,
        oedema_mm=float(oedema_mm),
        satellite=satellite,
    )


def plan_lesions(
    brain: np.ndarray,
    white_matter: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    radius_mm: tuple[float, float] = (8.0, 22.0),
    no_enhancement: float = 0.25,
    second_lesion: float = 0.15,
    max_satellites: int = 3,
) -> list[LesionPlan]:
    """Draw the lesions of one subject: one main lesion in white matter, sometimes a second one, and satellites.

    Args:
        brain: bool (X, Y, Z) brain mask.
        white_matter: float (X, Y, Z) WM fraction (the main lesions' centres are in WM).
        voxel_size: mm per axis.
        rng: the subject's generator.
        radius_mm: range of the core radius of the main lesions.
        no_enhancement: probability that a lesion has no enhancing part.
        second_lesion: probability of a second, independent lesion (multifocal glioma).
        max_satellites: satellites per subject are drawn from 0..``max_satellites`` (fewer more likely).

    Returns:
        the lesions, main lesion first (its radius shrinks, down to 0.41 times the drawn one, until it fits in
        white matter away from the brain's edge); empty when even that does not fit.
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    depth = ndimage.distance_transform_edt(brain, sampling=vs)
    plans: list[LesionPlan] = []
    count = 2 if rng.random() < second_lesion else 1
    for _ in range(count):
        radius = rng.uniform(*radius_mm) * (0.7 if plans else 1.0)
        for _attempt in range(5):  # a smaller lesion where a large one does not fit
            allowed = (white_matter > 0.5) & (depth > 1.3 * radius + 4.0)
            away = [p.centre for p in plans]
            centre = _pick_centre(allowed, rng, away, min_distance=3.0 * radius / float(vs.mean()))
            if centre is not None:
                plans.append(_draw_plan(centre, radius, rng, no_enhancement))
                break
            radius *= 0.8
    if not plans:
        return plans
    main = plans[0]
    satellites = int(rng.choice(max_satellites + 1, p=_decreasing(max_satellites + 1)))
    for _ in range(satellites):
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        distance_mm = main.radius_mm * rng.uniform(1.2, 2.0) + main.oedema_mm * rng.uniform(0.0, 0.6)
        centre = np.round(main.centre + direction * distance_mm / vs)
        inside = np.all((centre >= 0) & (centre < np.asarray(brain.shape)))
        if not inside or depth[tuple(centre.astype(int))] < 6.0:
            continue
        plans.append(_draw_plan(centre, rng.uniform(2.5, 6.0), rng, no_enhancement, satellite=True))
    return plans


def _decreasing(n: int) -> np.ndarray:
    """Probabilities of 0..n-1 that halve at each step."""
    weights = 0.5 ** np.arange(n)
    return weights / weights.sum()


def _lumpy_radius(
    shape: Sequence[int],
    centre: np.ndarray,
    scale_mm: np.ndarray,
    vs: np.ndarray,
    rng: np.random.Generator,
    lumps: float,
) -> np.ndarray:
    """Normalised distance from ``centre`` (1 on the ellipsoid of semi-axes ``scale_mm``), modulated by coarse and
    fine smooth noise of relative amplitude about ``lumps``: float32 (X, Y, Z), an irregular lobulated level set."""
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    rho2 = sum(((g - c) * v / s) ** 2 for g, c, v, s in zip(grid, centre, vs, scale_mm, strict=True))
    coarse = texture_field(tuple(shape), rng, sigma_vox=max(6.0 / vs.mean(), 1.0))
    fine = texture_field(tuple(shape), rng, sigma_vox=max(2.5 / vs.mean(), 0.7))
    modulation = np.clip(1.0 + lumps * coarse + 0.35 * lumps * fine, 0.4, 1.8)
    return (np.sqrt(rho2) * modulation).astype(np.float32)


def _fraction_where(field: np.ndarray, inside: np.ndarray, fraction: float) -> np.ndarray:
    """``inside`` & (``field`` above its quantile that leaves ``fraction`` of ``inside``)."""
    if not inside.any():
        return inside
    return inside & (field >= np.quantile(field[inside], 1.0 - fraction))


def _lesion_box(plan: LesionPlan, shape: Sequence[int], vs: np.ndarray) -> tuple[slice, ...]:
    """The part of the grid one lesion can reach (its core's largest extent plus twice its oedema's reach)."""
    reach_mm = 1.8 * plan.radius_mm * float(plan.axes.max()) + 2.5 * plan.oedema_mm + 4.0
    half = np.ceil(reach_mm / vs).astype(int)
    centre = np.round(plan.centre).astype(int)
    return tuple(slice(max(0, c - h), min(s, c + h + 1)) for c, h, s in zip(centre, half, shape, strict=True))


def _lesion_compartments(
    plan: LesionPlan, brain: np.ndarray, white_matter: np.ndarray, vs: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Hard masks (bool, the shape of ``brain``: a crop around the lesion) ``core``, ``enhancing``, ``necrosis``,
    ``oedema`` and the oedema's float32 ``density`` of one lesion whose ``plan.centre`` is in the crop's voxels."""
    shape = brain.shape
    scale = plan.radius_mm * plan.axes
    lumps = rng.uniform(0.1, 0.3) if plan.satellite else rng.uniform(0.15, 0.35)
    rho = _lumpy_radius(shape, plan.centre, scale, vs, rng, lumps)
    core = (rho < 1.0) & brain
    enhancing = np.zeros(shape, dtype=bool)
    if plan.enhancement == "rim":
        rim = core & (rho > 1.0 - rng.uniform(0.2, 0.45))
        enhancing = _fraction_where(texture_field(shape, rng, max(4.0 / vs.mean(), 1.0)), rim, rng.uniform(0.45, 1.0))
    elif plan.enhancement == "patchy":
        nodules = texture_field(shape, rng, max(2.5 / vs.mean(), 0.8))
        enhancing = _fraction_where(nodules, core, rng.uniform(0.15, 0.5))
    necrosis = np.zeros(shape, dtype=bool)
    if plan.necrosis:
        offset = rng.standard_normal(3)
        offset *= rng.uniform(0.2, 0.5) * plan.radius_mm / np.linalg.norm(offset) / vs
        rho_n = _lumpy_radius(shape, plan.centre + offset, scale * rng.uniform(0.35, 0.65), vs, rng, 0.2)
        necrosis = (rho_n < 1.0) & core & ~enhancing
    # oedema: reach varies along the surface and is longer in white matter than in grey matter
    distance = ndimage.distance_transform_edt(~core, sampling=vs)
    reach = plan.oedema_mm * np.clip(1.0 + 0.6 * texture_field(shape, rng, max(8.0 / vs.mean(), 1.0)), 0.1, 2.5)
    wm_weight = np.clip(1.4 * ndimage.gaussian_filter(white_matter, 2.0 / vs.mean()), 0.25, 1.0)
    reach = reach * wm_weight
    # one contiguous region, as a reader outlines it: no pinholes where grey matter interrupts the white matter
    oedema = ndimage.binary_closing(brain & (distance < reach), iterations=1)
    oedema = ndimage.binary_fill_holes(oedema | core) & brain & ~core
    outward = np.clip(distance / np.maximum(reach, 1e-3), 0.0, 1.0)
    density = (1.0 - rng.uniform(0.3, 0.7) * outward) * np.clip(1.0 + 0.15 * texture_field(shape, rng, 2.0), 0.6, 1.3)
    return {"core": core, "enhancing": enhancing, "necrosis": necrosis, "oedema": oedema, "density": density}


def _soft(mask: np.ndarray, sigma_vox: float = 0.5) -> np.ndarray:
    """Partial-volume fraction of a hard mask: the mask blurred by ``sigma_vox``, float32 in [0, 1]."""
    return np.clip(ndimage.gaussian_filter(mask.astype(np.float32), sigma_vox), 0.0, 1.0)


def draw_glioma(
    plans: Sequence[LesionPlan],
    brain: np.ndarray,
    white_matter: np.ndarray,
    csf: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
) -> GliomaMaps:
    """Draw the compartments of ``plans`` (see the module docstring) and their BraTS labels.

    Args:
        plans: from :func:`plan_lesions` (an empty sequence gives a tumour-free subject: all maps zero).
        brain: bool (X, Y, Z) brain mask.
        white_matter, csf: float (X, Y, Z) fractions of the (displaced) anatomy; tumour does not grow into CSF
            spaces (voxels more than half CSF).
        voxel_size: mm per axis.
        rng: the subject's generator.

    Returns:
        :class:`GliomaMaps`; where compartments of several lesions meet, enhancing wins over necrosis over
        non-enhancing tumour over oedema.

    Example::

        plans = plan_lesions(brain, wm, (2.0, 2.0, 2.0), rng)
        maps = draw_glioma(plans, brain, wm, csf, (2.0, 2.0, 2.0), rng)
        maps.labels.shape  # brain.shape, values in {0, 1, 2, 4}
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    shape = brain.shape
    tissue = brain & (csf < 0.5)
    core, enhancing, necrosis, oedema = (np.zeros(shape, dtype=bool) for _ in range(4))
    density = np.zeros(shape, dtype=np.float32)
    for plan in plans:
        box = _lesion_box(plan, shape, vs)
        local = replace(plan, centre=plan.centre - np.array([b.start for b in box], dtype=np.float64))
        parts = _lesion_compartments(local, tissue[box], white_matter[box], vs, rng)
        core[box] |= parts["core"]
        enhancing[box] |= parts["enhancing"]
        necrosis[box] |= parts["necrosis"]
        oedema[box] |= parts["oedema"]
        density[box] = np.maximum(density[box], np.where(parts["oedema"], parts["density"], 0.0))
    necrosis &= ~enhancing
    non_enhancing = core & ~enhancing & ~necrosis
    oedema &= ~core
    labels = np.zeros(shape, dtype=np.uint8)
    labels[oedema] = ED
    labels[non_enhancing | necrosis] = NCR
    labels[enhancing] = ET
    fractions = {name: _soft(mask) for name, mask in (("necrosis", necrosis), ("non_enhancing", non_enhancing),
                                                     ("enhancing", enhancing))}  # fmt: skip
    fractions["oedema"] = _soft(oedema) * np.clip(ndimage.gaussian_filter(density, 0.5), 0.0, 1.0)
    total = sum(fractions.values())
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0) * brain
    uptake = np.clip(0.65 + 0.35 * texture_field(shape, rng, max(3.0 / vs.mean(), 1.0)), 0.2, 1.0)
    return GliomaMaps(
        **{name: (f * scale).astype(np.float32) for name, f in fractions.items()},
        labels=labels,
        enhancement=uptake.astype(np.float32),
        plans=tuple(plans),
    )

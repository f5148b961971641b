"""Per-subject intensities of healthy tissue, tumour compartments and mimics on T1, T1 post-contrast, T2 and FLAIR.

Real scans are not calibrated: the same compartment has a different brightness relative to white matter in every
subject (sequence, field strength, tumour biology). Each subject draws, for each compartment and contrast, its mean
intensity relative to white matter (1 on every contrast) from the ranges of :data:`INTENSITY_RANGES` (non-enhancing
tumour relative to oedema: :data:`RELATIVE_RANGES`). The ranges are
read from typical clinical appearances (oedema and non-enhancing tumour: hypointense on T1, hyperintense on T2 and
FLAIR; necrosis: darker on T1 and brighter on T2, partly suppressed on FLAIR; enhancing tumour and veins: bright on T1
post-contrast) and are wide and overlapping on purpose: oedema, non-enhancing tumour and grey matter share intensities
on every single contrast, so that only the combination of contrasts, shape and context tells them apart.

Within each compartment a smooth "water content" field varies the intensity (brighter on T2 and FLAIR where darker on
T1 and T1 post-contrast), with a larger amplitude in tumour than in healthy tissue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .randomise import texture_field

__all__ = [
    "LESION_CONTRASTS",
    "INTENSITY_RANGES",
    "RELATIVE_RANGES",
    "COMPARTMENTS",
    "ENHANCEMENT_RANGES",
    "TEXTURE_RANGES",
    "Appearance",
    "draw_appearance",
    "render_contrasts",
]

#: the contrasts of a BraTS case, in the package's names.
LESION_CONTRASTS = ("t1w", "t1ce", "t2w", "flair")

#: compartment -> contrast -> range of the mean intensity relative to white matter (T1 post-contrast before uptake is
#: drawn from the ``t1w`` range, independently: BraTS' T1 and T1ce are often different sequences).
INTENSITY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "wm": {"t1w": (1.0, 1.0), "t2w": (1.0, 1.0), "flair": (1.0, 1.0)},
    "gm": {"t1w": (0.72, 0.86), "t2w": (1.15, 1.5), "flair": (1.05, 1.3)},
    "csf": {"t1w": (0.25, 0.45), "t2w": (2.4, 3.6), "flair": (0.15, 0.45)},
    "oedema": {"t1w": (0.68, 0.9), "t2w": (1.45, 2.3), "flair": (1.2, 1.8)},
    "necrosis": {"t1w": (0.35, 0.65), "t2w": (1.8, 2.9), "flair": (0.6, 1.5)},
    "enhancing": {"t1w": (0.68, 0.9), "t2w": (1.2, 1.7), "flair": (1.1, 1.5)},
    "hyperintensities": {"t1w": (0.8, 0.97), "t2w": (1.4, 2.2), "flair": (1.2, 1.75)},
    "vessels": {"t1w": (0.75, 1.0), "t2w": (0.4, 0.9), "flair": (0.4, 0.9)},
    "choroid_plexus": {"t1w": (0.7, 0.9), "t2w": (1.1, 1.8), "flair": (0.7, 1.2)},
}

#: compartment -> (the compartment it is drawn relative to, range of the size of the log ratio between them): on
#: each contrast, brighter or darker at random. Non-enhancing tumour is as bright as oedema to within 6-20 % (so that
#: it overlaps it and grey matter like oedema does, yet a boundary shows between them).
RELATIVE_RANGES: dict[str, tuple[str, tuple[float, float]]] = {"non_enhancing": ("oedema", (0.06, 0.2))}

#: every compartment :func:`render_contrasts` knows.
COMPARTMENTS = (*INTENSITY_RANGES, *RELATIVE_RANGES)

#: compartment -> range of T1 post-contrast over its value before gadolinium, at full uptake.
ENHANCEMENT_RANGES: dict[str, tuple[float, float]] = {
    "enhancing": (1.5, 2.4),
    "vessels": (1.8, 2.8),
    "choroid_plexus": (1.7, 2.5),
}

#: compartment -> range of the relative amplitude of its texture (compartments not named use ``"default"``).
TEXTURE_RANGES: dict[str, tuple[float, float]] = {
    "default": (0.01, 0.04),
    "oedema": (0.05, 0.14),
    "non_enhancing": (0.06, 0.16),
    "enhancing": (0.05, 0.15),
    "necrosis": (0.08, 0.2),
}

_WATER_SIGN = {"t1w": -1.0, "t1ce": -1.0, "t2w": 1.0, "flair": 1.0}


@dataclass(frozen=True)
class Appearance:
    """The intensities drawn for one subject.

    Attributes:
        means: contrast -> compartment -> mean intensity relative to white matter (``t1ce``: before uptake).
        enhancement: compartment -> T1 post-contrast over pre-contrast at full uptake.
        texture: compartment -> relative amplitude of its texture.
    """

    means: dict[str, dict[str, float]]
    enhancement: dict[str, float]
    texture: dict[str, float]


def draw_appearance(rng: np.random.Generator) -> Appearance:
    """Draw one subject's intensities from :data:`INTENSITY_RANGES`, :data:`RELATIVE_RANGES`,
    :data:`ENHANCEMENT_RANGES` and :data:`TEXTURE_RANGES`."""
    means: dict[str, dict[str, float]] = {c: {} for c in LESION_CONTRASTS}
    for compartment, ranges in INTENSITY_RANGES.items():
        for contrast in LESION_CONTRASTS:
            means[contrast][compartment] = float(rng.uniform(*ranges["t1w" if contrast == "t1ce" else contrast]))
    for compartment, (reference, (low, high)) in RELATIVE_RANGES.items():
        for contrast in LESION_CONTRASTS:
            log_ratio = rng.uniform(low, high) * rng.choice((-1.0, 1.0))
            means[contrast][compartment] = means[contrast][reference] * float(np.exp(log_ratio))
    enhancement = {k: float(rng.uniform(*r)) for k, r in ENHANCEMENT_RANGES.items()}
    texture = {k: float(rng.uniform(*TEXTURE_RANGES.get(k, TEXTURE_RANGES["default"]))) for k in COMPARTMENTS}
    return Appearance(means=means, enhancement=enhancement, texture=texture)


def render_contrasts(
    fractions: Mapping[str, np.ndarray],
    appearance: Appearance,
    rng: np.random.Generator,
    uptake: Mapping[str, np.ndarray | float] | None = None,
    contrasts: tuple[str, ...] = LESION_CONTRASTS,
) -> dict[str, np.ndarray]:
    """The images of one subject: per voxel the fraction-weighted sum of its compartments' textured intensities.

    Args:
        fractions: compartment (one of :data:`COMPARTMENTS`) -> float (X, Y, Z) fraction, summing to the brain mask.
        appearance: from :func:`draw_appearance`.
        rng: the subject's generator (draws the texture fields).
        uptake: compartment -> gadolinium uptake in [0, 1] (float (X, Y, Z) or a number) for the compartments of
            :data:`ENHANCEMENT_RANGES`; 1 where not given.
        contrasts: which of :data:`LESION_CONTRASTS` to render.

    Returns:
        contrast -> float32 (X, Y, Z) image, white matter about 1.

    Example::

        appearance = draw_appearance(rng)
        images = render_contrasts({"wm": wm, "gm": gm, "csf": csf}, appearance, rng)
        images["flair"].shape  # wm.shape
    """
    unknown = sorted(set(fractions) - set(COMPARTMENTS))
    if unknown:
        raise ValueError(f"unknown compartment(s) {unknown}; choose from {sorted(COMPARTMENTS)}")
    uptake = dict(uptake or {})
    shape = next(iter(fractions.values())).shape
    images = {c: np.zeros(shape, dtype=np.float32) for c in contrasts}
    for name, fraction in fractions.items():
        if not np.any(fraction > 0):
            continue
        water = appearance.texture[name] * texture_field(tuple(shape), rng, sigma_vox=float(rng.uniform(0.7, 1.5)))
        for contrast in contrasts:
            value = appearance.means[contrast][name] * (1.0 + _WATER_SIGN[contrast] * water)
            if contrast == "t1ce" and name in appearance.enhancement:
                value = value * (1.0 + (appearance.enhancement[name] - 1.0) * np.asarray(uptake.get(name, 1.0)))
            images[contrast] += (fraction * np.clip(value, 0.0, None)).astype(np.float32)
    return images

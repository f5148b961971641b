"""Realistic glioma subjects for segmentation: the lesion model that thresholds cannot segment (issue 31).

:func:`make_realistic_tumour_subject` puts together, on a synthetic subject's anatomy (:func:`.subject.make_subject`):

- lesions (:mod:`.glioma`): irregular, non-concentric compartments, rim / patchy / no enhancement, off-centre
  necrosis, satellites, sometimes a second lesion; some subjects have no tumour at all;
- mass effect (:mod:`.mass_effect`): the surrounding tissue and ventricles pushed away from the lesions;
- mimics (:mod:`.mimics`): white-matter hyperintensities and enhancing vessels and choroid plexus, never labelled;
- intensities (:mod:`.lesion_contrast`): per-subject compartment intensities from overlapping ranges, texture, and
  partial volume at every compartment's edge.

The acquisition (bias field per contrast, thick slices, misregistration, per-subject noise: :mod:`.scan_acquisition`)
is applied when the subject is written (:func:`acquire_realistic`), as for the other tasks' noise.

``mri-monai make-data segmentation --lesions realistic`` writes such subjects; the default (``--lesions simple``)
keeps the one concentric tumour of :mod:`.tumour`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .deformation import warp
from .glioma import GliomaMaps, LesionPlan, draw_glioma, plan_lesions
from .lesion_contrast import LESION_CONTRASTS, draw_appearance, render_contrasts
from .mass_effect import displace_tissue, mass_effect_field
from .mimics import MimicMaps, random_mimics
from .scan_acquisition import acquire_contrasts
from .subject import SyntheticSubject, make_subject

__all__ = [
    "LESION_MODELS",
    "RealisticLesions",
    "lesions_from_options",
    "make_realistic_tumour_subject",
    "acquire_realistic",
]

#: the lesion models of ``make-data segmentation --lesions``.
LESION_MODELS = ("simple", "realistic")
#: the ``make-data`` options that tune the realistic model (fields of :class:`RealisticLesions`).
TUNING_OPTIONS = ("tumour_free", "no_enhancement")
_LESION_STREAM, _ACQUISITION_STREAM = 31, 37  # the subject's random streams: np.random.default_rng([seed, stream])


@dataclass(frozen=True)
class RealisticLesions:
    """Settings of the realistic lesion model (see the module docstring).

    Args:
        tumour_free: probability that a subject has no tumour (mimics only).
        no_enhancement: probability that a lesion has no enhancing part.
        second_lesion: probability of a second lesion.
        max_satellites: largest number of satellite foci.
        radius_mm: range of the main lesion's core radius.
        mass_effect: range of the volume a lesion adds (pushing tissue away), as a fraction of its core plus half
            its oedema; halved for non-enhancing lesions, none for satellites.
        mimics: add the tumour mimics.
        bias: range of the bias field coefficients (MONAI ``RandBiasField``).
        slice_thickness_mm: range of the slice thickness of each contrast.
        misregistration_mm, misregistration_deg: largest residual misregistration of T1, T2 and FLAIR to T1ce.
        noise_spread: the subject's noise level is log-uniform in [noise / spread, noise * spread] (``noise``: the
            ``make-data`` option).

    Raises:
        ValueError: a probability outside [0, 1], a range with low > high or a negative bound, a negative number.
    """

    tumour_free: float = 0.1
    no_enhancement: float = 0.25
    second_lesion: float = 0.15
    max_satellites: int = 3
    radius_mm: tuple[float, float] = (8.0, 22.0)
    mass_effect: tuple[float, float] = (0.0, 1.0)
    mimics: bool = True
    bias: tuple[float, float] = (-0.15, 0.15)
    slice_thickness_mm: tuple[float, float] = (2.0, 6.0)
    misregistration_mm: float = 1.5
    misregistration_deg: float = 1.5
    noise_spread: float = 2.0

    def __post_init__(self) -> None:
        for name in ("tumour_free", "no_enhancement", "second_lesion"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        for name in ("radius_mm", "mass_effect", "slice_thickness_mm"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {getattr(self, name)}")
        if self.radius_mm[0] <= 0:
            raise ValueError(f"radius_mm must be positive, got {self.radius_mm}")
        if self.bias[0] > self.bias[1]:
            raise ValueError(f"bias must be (low, high) with low <= high, got {self.bias}")
        for name in ("max_satellites", "misregistration_mm", "misregistration_deg"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.noise_spread < 1:
            raise ValueError(f"noise_spread must be at least 1, got {self.noise_spread}")


def lesions_from_options(options: Mapping[str, Any]) -> RealisticLesions | None:
    """The lesion model of ``make-data`` options: None for ``lesions="simple"`` (the default), else the settings.

    Args:
        options: ``make-data`` task options; reads ``lesions`` and the :data:`TUNING_OPTIONS`.

    Raises:
        ValueError: an unknown lesion model, tuning options without ``lesions="realistic"``, a bad tuning value.
    """
    model = options.get("lesions", "simple")
    if model not in LESION_MODELS:
        raise ValueError(f"unknown lesion model {model!r}; choose from {', '.join(LESION_MODELS)}")
    tuning = {name: float(options[name]) for name in TUNING_OPTIONS if name in options}
    if model == "simple":
        if tuning:
            raise ValueError(f"{', '.join(tuning)} tune the realistic lesion model: add lesions='realistic'")
        return None
    return RealisticLesions(**tuning)


def _bulk_radius(plan: LesionPlan, rng: np.random.Generator, mass_effect: tuple[float, float]) -> float:
    """The radius of the volume a lesion adds: a random fraction of its core plus half its oedema (mm)."""
    if plan.satellite:
        return 0.0
    core = plan.radius_mm * float(np.prod(plan.axes)) ** (1.0 / 3.0)
    with_oedema = core + 0.5 * plan.oedema_mm
    volume = core**3 + 0.5 * (with_oedema**3 - core**3)
    fraction = rng.uniform(*mass_effect) * (0.5 if plan.enhancement == "none" else 1.0)
    return float(np.cbrt(fraction * volume))


def _largest_shift_outside(ddf: np.ndarray, vs: np.ndarray, where: np.ndarray) -> float:
    """The largest displacement (mm) of ``ddf`` ((3, X, Y, Z) voxels) over the voxels ``where``."""
    if not where.any():
        return 0.0
    return float(np.sqrt(((ddf[:, where] * vs[:, None]) ** 2).sum(axis=0)).max())


def _compose(
    tissue: Mapping[str, np.ndarray], glioma: GliomaMaps, mimics: MimicMaps | None, mask: np.ndarray
) -> dict[str, np.ndarray]:
    """Compartment fractions summing to the brain mask: the tumour replaces healthy tissue (its oedema in part), white
    matter hyperintensities replace white matter, the choroid plexus CSF, and vessels any healthy tissue."""
    keep = 1.0 - glioma.total
    healthy = {name: tissue[name] * keep for name in ("wm", "gm", "csf")}
    fractions = {**healthy}
    if mimics is not None:
        hyper = np.minimum(mimics.hyperintensities, healthy["wm"])
        plexus = np.minimum(mimics.choroid_plexus, healthy["csf"])
        fractions["wm"] = healthy["wm"] - hyper
        fractions["csf"] = healthy["csf"] - plexus
        vessels = np.minimum(mimics.vessels, keep * mask)
        fractions = {name: f * (1.0 - vessels) for name, f in fractions.items()}
        fractions.update(hyperintensities=hyper * (1.0 - vessels), choroid_plexus=plexus * (1.0 - vessels))
        fractions["vessels"] = vessels
    fractions.update(
        oedema=glioma.oedema, non_enhancing=glioma.non_enhancing, necrosis=glioma.necrosis, enhancing=glioma.enhancing
    )
    return {name: np.clip(f, 0.0, 1.0).astype(np.float32) for name, f in fractions.items()}


def make_realistic_tumour_subject(
    seed: int,
    voxel_size: float | Sequence[float] = 2.0,
    shape: Sequence[int] | None = None,
    lesions: RealisticLesions | None = None,
    contrasts: Sequence[str] = LESION_CONTRASTS,
    anatomy: SyntheticSubject | None = None,
) -> SyntheticSubject:
    """One subject of the realistic lesion model, clean (no acquisition yet: see :func:`acquire_realistic`).

    Args:
        seed: makes the subject (the lesions, the appearance and, unless ``anatomy`` is given, the anatomy:
            :func:`~mri_monai.data.subject.make_subject`'s for this seed).
        voxel_size: mm, isotropic or per axis.
        shape: grid (X, Y, Z); None keeps the whole resampled template.
        lesions: the model's settings (default :class:`RealisticLesions`).
        contrasts: any of ``t1w``, ``t1ce``, ``t2w``, ``flair``.
        anatomy: the healthy anatomy to put the lesions in instead of a synthetic one (its ``fractions`` of ``gm``,
            ``wm`` and ``csf``, ``brain_mask``, ``ddf`` and ``affine``; e.g. a real brain's,
            :func:`~mri_monai.data.real_brain.real_brain_subject`); ``voxel_size`` and ``shape`` are then its own.

    Returns:
        the subject: ``images`` (float32 (X, Y, Z) per contrast, white matter about 1), ``tumour_labels`` (uint8 BraTS
        labels 0, 1, 2, 4; all 0 for a tumour-free subject), ``fractions`` (every compartment, displaced anatomy),
        ``tissue_labels`` of the displaced anatomy, ``ddf`` (template -> subject, mass effect included), and
        ``parameters``: ``tumour_free``, ``lesions`` (main lesions), ``satellites``, ``enhancement`` (the main
        lesions' patterns, comma-separated), ``mass_effect_mm`` (the largest displacement of brain outside the
        tumour), ``bulk_radius_mm`` (the largest lesion's).

    Example::

        subject = make_realistic_tumour_subject(7, 2.0, (96, 112, 96))
        subject.images["flair"].shape, subject.tumour_labels.max()  # (96, 112, 96), 4 (or 1, or 0)
    """
    settings = lesions or RealisticLesions()
    unknown = sorted(set(contrasts) - set(LESION_CONTRASTS))
    if unknown:
        raise ValueError(f"unknown contrast(s) {unknown}; choose from {LESION_CONTRASTS}")
    if anatomy is None:
        anatomy = make_subject(seed, voxel_size, shape, contrasts=(), tumour=False)
    rng = np.random.default_rng([seed, _LESION_STREAM])
    vs = np.asarray(anatomy.voxel_size)
    brain = anatomy.brain_mask > 0
    mask = sum(anatomy.fractions[t] for t in ("gm", "wm", "csf"))
    tumour_free = bool(rng.random() < settings.tumour_free)
    plans: list[LesionPlan] = []
    if not tumour_free:
        plans = plan_lesions(
            brain,
            anatomy.fractions["wm"],
            vs,
            rng,
            settings.radius_mm,
            settings.no_enhancement,
            settings.second_lesion,
            settings.max_satellites,
        )
    bulk = [_bulk_radius(p, rng, settings.mass_effect) for p in plans]
    ddf = mass_effect_field(brain, [p.centre for p in plans], bulk, vs)
    tissue = displace_tissue({t: anatomy.fractions[t] for t in ("wm", "gm", "csf")}, ddf)
    glioma = draw_glioma(plans, brain, tissue["wm"], tissue["csf"], vs, rng)
    mimics = None
    if settings.mimics:
        mimics = random_mimics(brain, tissue["wm"], tissue["csf"], vs, rng, avoid=glioma.labels > 0)
    fractions = _compose(tissue, glioma, mimics, mask)
    images = render_contrasts(fractions, draw_appearance(rng), rng, {"enhancing": glioma.enhancement}, tuple(contrasts))
    tissue_labels = np.argmax(np.stack([1.0 - mask, tissue["csf"], tissue["gm"], tissue["wm"]]), axis=0)
    main = [p for p in plans if not p.satellite]
    return SyntheticSubject(
        images=images,
        tissue_labels=tissue_labels.astype(np.uint8),
        fractions=fractions,
        brain_mask=anatomy.brain_mask,
        ddf=(warp(anatomy.ddf, ddf) + ddf).astype(np.float32),
        affine=anatomy.affine,
        seed=seed,
        tumour_labels=glioma.labels,
        parameters={
            **anatomy.parameters,
            "lesion_model": "realistic",
            "tumour_free": tumour_free,
            "lesions": len(main),
            "satellites": len(plans) - len(main),
            "enhancement": ",".join(p.enhancement for p in main),
            "mass_effect_mm": _largest_shift_outside(ddf, vs, brain & (glioma.labels == 0)),
            "bulk_radius_mm": float(max(bulk, default=0.0)),
        },
    )


def acquire_realistic(subject: SyntheticSubject, noise: float, lesions: RealisticLesions | None = None) -> dict:
    """The subject's images as a scanner gives them (:func:`~.scan_acquisition.acquire_contrasts`), deterministic
    by the subject's seed.

    Args:
        subject: from :func:`make_realistic_tumour_subject`.
        noise: the central noise level (fraction of each contrast's 99th brain percentile); the subject's is drawn
            log-uniformly within a factor ``lesions.noise_spread`` of it.
        lesions: the settings the subject was made with.

    Returns:
        contrast -> float32 (X, Y, Z) image, zero outside the brain.
    """
    settings = lesions or RealisticLesions()
    rng = np.random.default_rng([subject.seed, _ACQUISITION_STREAM])
    spread = np.log(settings.noise_spread)
    level = noise * float(np.exp(rng.uniform(-spread, spread)))
    return acquire_contrasts(
        subject.images,
        subject.brain_mask,
        subject.voxel_size,
        rng,
        level,
        bias=settings.bias,
        slice_thickness_mm=settings.slice_thickness_mm,
        misregistration_mm=settings.misregistration_mm,
        misregistration_deg=settings.misregistration_deg,
    )

"""Synthetic subjects: the MNI152 tissue model deformed, given contrasts, bias fields and (optionally) a tumour.

Everything is deterministic by ``seed``. Images are magnitude images in arbitrary units (each contrast
scaled so that white matter of the template would be about 1 at unit gain) on the template's grid;
the subject's deformation is kept so that registration can be scored against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .deformation import random_affine, random_deformation, warp
from .mni import load_tissue_maps
from .randomise import DomainRandomisation, hard_brain_mask, head_shells, sharpen_fractions, texture_field
from .relaxation import SEQUENCES, TISSUES, Tissue, signal, with_gadolinium
from .tumour import TumourMaps, random_tumour

__all__ = ["CONTRASTS", "TISSUE_LABELS", "SyntheticSubject", "make_subject", "bias_field"]

CONTRASTS = ("t1w", "t1ce", "t2w", "pdw", "flair")
TISSUE_LABELS = {"background": 0, "csf": 1, "gm": 2, "wm": 3}
_ENHANCING_GD_MM = 0.3  # gadolinium in the enhancing rim after injection, mM


@dataclass
class SyntheticSubject:
    """One synthetic subject on a voxel grid (X, Y, Z) with a RAS ``affine``.

    Attributes:
        images: contrast name -> float32 (X, Y, Z) magnitude image.
        tissue_labels: uint8 (X, Y, Z), 0 background, 1 CSF, 2 GM, 3 WM (:data:`TISSUE_LABELS`).
        fractions: tissue name -> float32 (X, Y, Z) fraction after deformation (tumour included).
        brain_mask: uint8 (X, Y, Z).
        ddf: float32 (3, X, Y, Z): subject voxel ``p`` comes from template voxel ``p + ddf[:, p]``.
        affine: float64 4 x 4 voxel-to-RAS (mm).
        tumour_labels: uint8 (X, Y, Z) BraTS labels (1 NCR, 2 ED, 4 ET) or None.
        seed: the seed that made it.
    """

    images: dict[str, np.ndarray]
    tissue_labels: np.ndarray
    fractions: dict[str, np.ndarray]
    brain_mask: np.ndarray
    ddf: np.ndarray
    affine: np.ndarray
    seed: int
    tumour_labels: np.ndarray | None = None
    parameters: dict[str, float] = field(default_factory=dict)

    @property
    def voxel_size(self) -> tuple[float, ...]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))


def bias_field(shape: Sequence[int], rng: np.random.Generator, strength: float = 0.15) -> np.ndarray:
    """A smooth multiplicative receive-bias field, float32 (X, Y, Z), ``exp`` of a random low-order polynomial.

    ``strength`` is the largest log-amplitude (0.15 gives about +-16 %).
    """
    axes = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    terms = [*axes, axes[0] * axes[1], axes[0] * axes[2], axes[1] * axes[2], *(a**2 for a in axes)]
    log_field = sum(c * t for c, t in zip(rng.uniform(-1, 1, len(terms)), terms, strict=True))
    log_field *= strength / max(np.abs(log_field).max(), 1e-12)
    return np.exp(log_field).astype(np.float32)


def _jitter(tissue: Tissue, rng: np.random.Generator, amount: float) -> Tissue:
    scale = 1.0 + rng.uniform(-amount, amount, 3)
    return Tissue(t1=tissue.t1 * scale[0], t2=tissue.t2 * scale[1], pd=tissue.pd * scale[2])


def _physics_image(
    contrast: str, fractions: dict[str, np.ndarray], tissues: dict[str, Tissue], tumour_maps: TumourMaps | None
) -> np.ndarray:
    """One contrast from tissue fractions and the signal equations (float64 (X, Y, Z), unscaled)."""
    seq = SEQUENCES[contrast]
    img = np.zeros(next(iter(fractions.values())).shape, dtype=np.float64)
    for name, frac in fractions.items():
        tissue = tissues[name]
        if contrast == "t1ce" and name == "enhancing" and tumour_maps is not None:  # uptake varies across the rim
            uptake = tumour_maps.enhancement
            gd = with_gadolinium(tissue, _ENHANCING_GD_MM)
            img += frac * (uptake * signal(gd, seq) + (1.0 - uptake) * signal(tissue, seq))
        else:
            img += frac * signal(tissue, seq)
    return img


def _randomised_image(
    contrast: str,
    fractions: dict[str, np.ndarray],
    head: dict[str, np.ndarray],
    tissues: dict[str, Tissue],
    rng: np.random.Generator,
    randomisation: DomainRandomisation,
) -> np.ndarray:
    """One domain-randomised contrast: physics or random-Gaussian intensities, head shells, gamma, bias, blur."""
    if randomisation.intensity_model(rng) == "gmm":
        image = randomisation.gmm_image({**fractions, **head}, rng)
    else:
        image = _physics_image(contrast, fractions, tissues, None) / signal(TISSUES["wm"], SEQUENCES[contrast])
        # skull (cortical bone, almost no signal) and scalp (fat, bright on most contrasts), relative to WM
        for name, low, high in (("skull", 0.0, 0.2), ("scalp", 0.4, 1.6)):
            if name in head:
                image = image + head[name] * rng.uniform(low, high)
    return randomisation.finish(image.astype(np.float32), rng) * rng.uniform(0.85, 1.15)


def make_subject(
    seed: int,
    voxel_size: float | Sequence[float] = 2.0,
    shape: Sequence[int] | None = None,
    contrasts: Sequence[str] = ("t1w", "t2w"),
    tumour: bool = False,
    max_displacement_mm: float = 6.0,
    deformation_smoothness_mm: float = 16.0,
    bias_strength: float = 0.15,
    relaxation_jitter: float = 0.05,
    deform: bool = True,
    randomisation: DomainRandomisation | None = None,
) -> SyntheticSubject:
    """Make one synthetic subject.

    Args:
        seed: makes the subject (same seed, same subject).
        voxel_size: mm, isotropic or per axis.
        shape: grid (X, Y, Z); None keeps the whole resampled template.
        contrasts: any of :data:`CONTRASTS` (``t1ce`` is T1w after gadolinium; it differs from ``t1w``
            only inside an enhancing tumour).
        tumour: add a tumour (necrotic core, enhancing rim, oedema) with BraTS labels.
        max_displacement_mm: velocity magnitude of the non-linear deformation, in mm.
        deformation_smoothness_mm: spatial scale of the non-linear deformation.
        bias_strength: log-amplitude of the receive bias field (0 disables it).
        relaxation_jitter: relative per-subject variation of T1, T2 and PD (0 disables it).
        deform: False keeps the template's anatomy (the atlas); bias and jitter still apply.
        randomisation: domain randomisation (:class:`~mri_monai.data.randomise.DomainRandomisation`); when given,
            its ranges replace ``max_displacement_mm``, ``deformation_smoothness_mm``, ``relaxation_jitter`` and
            the polynomial bias field, and each contrast gets random intensities, gamma, bias and blur.

    Example::

        subj = make_subject(3, voxel_size=2.0, shape=(80, 96, 80), contrasts=("t1w", "flair"), tumour=True)
        subj.images["flair"].shape  # (80, 96, 80)
    """
    unknown = set(contrasts) - set(CONTRASTS)
    if unknown:
        raise ValueError(f"unknown contrast(s) {sorted(unknown)}; choose from {CONTRASTS}")
    rng = np.random.default_rng(seed)
    maps = load_tissue_maps(voxel_size, shape)
    vs = np.asarray(maps.voxel_size)
    if deform and randomisation is not None:
        r = randomisation
        max_displacement_mm = float(rng.uniform(*r.max_displacement_mm))
        deformation_smoothness_mm = float(rng.uniform(*r.smoothness_mm))
        relaxation_jitter = r.relaxation_jitter
        affine = random_affine(rng, max_rotation_deg=r.max_rotation_deg, max_scale=r.max_scale)
    else:
        affine = random_affine(rng) if deform else None
    if deform:
        smooth_vox = deformation_smoothness_mm / float(vs.mean())
        ddf = random_deformation(maps.shape, rng, max_displacement_mm / float(vs.mean()), smooth_vox, affine)
    else:
        ddf = np.zeros((3, *maps.shape), dtype=np.float32)
    stacked = warp(np.stack([maps.gm, maps.wm, maps.csf, maps.mask]), ddf)
    gm, wm, csf, mask = (np.clip(a, 0.0, 1.0) for a in stacked)
    brain = mask > 0.5
    labels = np.argmax(np.stack([1.0 - mask, csf, gm, wm]), axis=0).astype(np.uint8)

    fractions = {"gm": gm, "wm": wm, "csf": csf}
    if randomisation is not None:
        power = float(rng.uniform(*randomisation.sharpen))
        fractions = sharpen_fractions({**fractions, "background": 1.0 - mask}, power)
        fractions.pop("background")
    tumour_maps: TumourMaps | None = None
    stripped = False  # a hard skull-strip (randomised subjects only)
    if tumour:
        tumour_maps = random_tumour(brain.astype(np.float32), wm, vs, rng)
        keep = 1.0 - tumour_maps.total
        fractions = {k: v * keep for k, v in fractions.items()}
        fractions.update(necrosis=tumour_maps.necrosis, enhancing=tumour_maps.enhancing, oedema=tumour_maps.oedema)

    tissues = {name: _jitter(TISSUES[name], rng, relaxation_jitter) for name in fractions}
    if randomisation is not None:
        amount = rng.uniform(*randomisation.texture)
        textured = {
            k: v * (1.0 + amount * texture_field(v.shape, rng, rng.uniform(*randomisation.texture_sigma_vox)))
            for k, v in fractions.items()
        }
        head = head_shells(brain, tuple(vs), rng) if rng.random() < randomisation.head_probability else {}
        images = {c: _randomised_image(c, textured, head, tissues, rng, randomisation) for c in contrasts}
        if not head and rng.random() < randomisation.strip_probability:
            stripped = True
            strip = hard_brain_mask(mask, rng)
            images = {c: np.where(strip, img, 0.0).astype(np.float32) for c, img in images.items()}
    else:
        bias = bias_field(maps.shape, rng, bias_strength) if bias_strength > 0 else np.ones(maps.shape, np.float32)
        images = {}
        for contrast in contrasts:
            gain = rng.uniform(0.85, 1.15)
            img = _physics_image(contrast, fractions, tissues, tumour_maps)
            images[contrast] = (img * bias * gain / signal(TISSUES["wm"], SEQUENCES[contrast])).astype(np.float32)

    return SyntheticSubject(
        images=images,
        tissue_labels=labels,
        fractions={k: v.astype(np.float32) for k, v in fractions.items()},
        brain_mask=ndimage.binary_fill_holes(brain).astype(np.uint8),
        ddf=ddf,
        affine=maps.affine.copy(),
        seed=seed,
        tumour_labels=None if tumour_maps is None else tumour_maps.labels,
        parameters={
            "max_displacement_mm": max_displacement_mm,
            "bias_strength": bias_strength,
            "randomised": randomisation is not None,
            "hard_skull_strip": stripped,
        },
    )

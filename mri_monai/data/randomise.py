"""Domain randomisation of synthetic subjects (the SynthSeg / SynthSR approach), so that networks trained on them
work on real scans.

The MNI152 template is an *average* of 152 brains: smoother, less noisy and less varied than any one scan. A
network trained only on it learns that smoothness, its contrasts and its noise level, and treats a real scan as
foreign. :class:`DomainRandomisation` draws, per subject and per contrast:

- anatomy: stronger and finer non-linear deformations and larger affines than the physics subjects; sharper tissue
  boundaries (tissue fractions raised to a random power and renormalised: a real brain's GM/WM edge is sharper than
  the average's); sub-tissue texture (a smooth random multiplicative field per tissue); with some probability a head
  around the brain (skull and scalp shells of random thickness and intensity) instead of a skull-stripped volume;
  without a head, sometimes a hard skull-strip: the image cut to zero outside a binary brain mask (thresholded at a
  random level and grown or shrunk by up to two voxels), the unblurred edge that brain-extraction tools leave and
  that many public sets have;
- intensities: the MR signal equations with wide relaxation jitter (``physics``), or one Gaussian per tissue with
  random mean and spread, deliberately unrealistic (``gmm``: SynthSeg draws means U(25, 225) and standard
  deviations U(5, 25) on a 0-255 scale; Billot et al., MedIA 2023), or either at random (``mixed``);
- random gamma (MONAI :class:`~monai.transforms.AdjustContrast`, log-gamma normal with std 0.4 as SynthSeg), random
  bias field (MONAI :class:`~monai.transforms.RandBiasField`), random blur (MONAI
  :class:`~monai.transforms.GaussianSmooth`).

Noise, coils and matrix sizes belong to the acquisition and are drawn by the task writers (:mod:`.tasks`) or on the
fly in training (:class:`~mri_monai.kspace.RandComplexNoised`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from monai.transforms import AdjustContrast, GaussianSmooth, RandBiasField
from scipy import ndimage

__all__ = [
    "INTENSITY_MODELS",
    "DomainRandomisation",
    "sharpen_fractions",
    "texture_field",
    "head_shells",
    "hard_brain_mask",
]

INTENSITY_MODELS = ("physics", "gmm", "mixed")


def _check_range(name: str, value: tuple[float, float], low: float = 0.0) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1]:
        raise ValueError(f"{name} must be (low, high) with {low} <= low <= high, got {value}")


@dataclass(frozen=True)
class DomainRandomisation:
    """Ranges of the random draws that make a synthetic subject unlike the template (see the module docstring).

    Args:
        intensity: ``"physics"`` (signal equations, ``relaxation_jitter``), ``"gmm"`` (random Gaussian per tissue)
            or ``"mixed"`` (each contrast of each subject one or the other with equal probability).
        gmm_mean: range of the per-tissue means on SynthSeg's 0-255 scale (128 is about white matter of the
            physics contrasts).
        gmm_std: range of the per-tissue spreads on the same scale (the spread is spatially smooth texture, not
            white noise, so that the clean image stays clean).
        relaxation_jitter: relative per-subject variation of T1, T2 and PD in the physics model.
        max_displacement_mm: range of the velocity magnitude of the non-linear deformation.
        smoothness_mm: range of its spatial scale (smaller is finer).
        max_rotation_deg, max_scale: affine rotation (degrees) and scaling (fraction) bounds.
        sharpen: range of the power the tissue fractions are raised to (1 keeps them).
        texture: range of the relative amplitude of the per-tissue texture.
        texture_sigma_vox: range of the texture's smoothing (Gaussian standard deviation, voxels). Texture finer
            than about two voxels looks like noise, which would teach a denoiser to keep noise.
        head_probability: probability of skull and scalp shells around the brain.
        strip_probability: probability, for a subject without a head, of a hard skull-strip (a binary mask applied
            after the blur, so that the edge is a cut to zero, not a soft fall-off).
        log_gamma_std: standard deviation of log(gamma).
        bias: range of the bias field's polynomial coefficients (MONAI ``RandBiasField`` ``coeff_range``).
        blur_sigma_vox: range of the Gaussian blur's standard deviation, voxels.

    Raises:
        ValueError: an unknown intensity model, a range with low > high or a negative bound, a probability outside
            [0, 1].

    Example::

        subject = make_subject(7, 1.25, (128, 160, 128), ("t1w",), randomisation=DomainRandomisation())
    """

    intensity: str = "mixed"
    gmm_mean: tuple[float, float] = (25.0, 225.0)
    gmm_std: tuple[float, float] = (5.0, 25.0)
    relaxation_jitter: float = 0.15
    max_displacement_mm: tuple[float, float] = (3.0, 12.0)
    smoothness_mm: tuple[float, float] = (6.0, 20.0)
    max_rotation_deg: float = 10.0
    max_scale: float = 0.1
    sharpen: tuple[float, float] = (1.0, 4.0)
    texture: tuple[float, float] = (0.0, 0.1)
    texture_sigma_vox: tuple[float, float] = (2.0, 4.0)
    head_probability: float = 0.5
    strip_probability: float = 0.6
    log_gamma_std: float = 0.4
    bias: tuple[float, float] = (0.0, 0.3)
    blur_sigma_vox: tuple[float, float] = (0.0, 0.8)

    def __post_init__(self) -> None:
        if self.intensity not in INTENSITY_MODELS:
            raise ValueError(f"unknown intensity model {self.intensity!r}; choose from {', '.join(INTENSITY_MODELS)}")
        ranges = (
            "gmm_mean",
            "gmm_std",
            "max_displacement_mm",
            "smoothness_mm",
            "texture",
            "texture_sigma_vox",
            "bias",
            "blur_sigma_vox",
        )
        for name in ranges:
            _check_range(name, getattr(self, name))
        _check_range("sharpen", self.sharpen, low=1.0)
        if self.smoothness_mm[0] <= 0:
            raise ValueError(f"smoothness_mm must be positive, got {self.smoothness_mm}")
        for name in ("head_probability", "strip_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("relaxation_jitter", "max_rotation_deg", "max_scale", "log_gamma_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    def intensity_model(self, rng: np.random.Generator) -> str:
        """``"physics"`` or ``"gmm"`` for one contrast of one subject."""
        if self.intensity == "mixed":
            return "gmm" if rng.random() < 0.5 else "physics"
        return self.intensity

    def gmm_image(self, fractions: Mapping[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """A random-intensity image: per tissue a random mean plus a smooth texture of random spread.

        Args:
            fractions: tissue name -> float (X, Y, Z) fraction (the head shells included, if any).
            rng: the subject's generator.

        Returns:
            float32 (X, Y, Z), about 1 for a mean of 128.
        """
        shape = next(iter(fractions.values())).shape
        image = np.zeros(shape, dtype=np.float64)
        for frac in fractions.values():
            mean = rng.uniform(*self.gmm_mean) / 128.0
            spread = rng.uniform(*self.gmm_std) / 128.0
            image += frac * (mean + spread * texture_field(shape, rng, sigma_vox=rng.uniform(*self.texture_sigma_vox)))
        return np.clip(image, 0.0, None).astype(np.float32)

    def finish(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Gamma, bias field and blur on one contrast (float32 (X, Y, Z), non-negative; the input is not modified)."""
        peak = float(image.max())
        if peak <= 0:
            return image.astype(np.float32)
        out = image[None].astype(np.float32) / peak
        out = AdjustContrast(gamma=float(np.exp(rng.normal(0.0, self.log_gamma_std))))(out)
        bias = RandBiasField(degree=3, coeff_range=self.bias, prob=1.0)
        bias.set_random_state(int(rng.integers(2**31)))
        out = bias(out)
        sigma = rng.uniform(*self.blur_sigma_vox)
        if sigma > 0.05:
            out = GaussianSmooth(sigma=float(sigma))(out)
        return np.clip(np.asarray(out)[0] * peak, 0.0, None).astype(np.float32)


def sharpen_fractions(fractions: Mapping[str, np.ndarray], power: float) -> dict[str, np.ndarray]:
    """Fractions raised to ``power`` and renormalised to the same total, so that boundaries sharpen.

    Args:
        fractions: name -> float (X, Y, Z) fraction in [0, 1], summing to about 1 per voxel (include the
            background, ``1 - brain``, so that the brain's outer edge sharpens too).
        power: >= 1; 1 returns the fractions unchanged.

    Returns:
        name -> float32 (X, Y, Z) sharpened fraction; per voxel the sum is the input's sum.
    """
    if power < 1:
        raise ValueError(f"power must be >= 1, got {power}")
    clipped = {k: np.clip(v, 0.0, 1.0).astype(np.float64) for k, v in fractions.items()}
    raised = {k: v**power for k, v in clipped.items()}
    total = sum(raised.values())
    scale = np.where(total > 0, sum(clipped.values()) / np.where(total > 0, total, 1.0), 0.0)
    return {k: (v * scale).astype(np.float32) for k, v in raised.items()}


def texture_field(shape: tuple[int, ...], rng: np.random.Generator, sigma_vox: float = 1.0) -> np.ndarray:
    """Smooth Gaussian noise of zero mean and unit standard deviation, float32 of ``shape``."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_vox)
    return ((field - field.mean()) / max(float(field.std()), 1e-12)).astype(np.float32)


def head_shells(brain: np.ndarray, voxel_size: tuple[float, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Skull and scalp around a brain mask: shells of random thickness, float32 fractions with soft edges.

    Args:
        brain: bool (X, Y, Z) brain mask.
        voxel_size: mm per axis.
        rng: the subject's generator.

    Returns:
        ``{"skull": ..., "scalp": ...}`` float32 (X, Y, Z) fractions, zero inside the brain.
    """
    distance = ndimage.distance_transform_edt(~brain, sampling=voxel_size)
    gap = rng.uniform(1.0, 3.0)  # CSF between brain and skull (dark on the contrasts as it is not modelled)
    skull = rng.uniform(3.0, 7.0)
    scalp = rng.uniform(3.0, 8.0)

    def band(start: float, stop: float) -> np.ndarray:
        return (np.clip(distance - start + 0.5, 0, 1) * np.clip(stop - distance + 0.5, 0, 1)).astype(np.float32)

    return {"skull": band(gap, gap + skull), "scalp": band(gap + skull, gap + skull + scalp)}


def hard_brain_mask(brain_fraction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A binary brain mask like a brain-extraction tool's: the brain fraction thresholded at a random level in
    [0.2, 0.8], then grown or shrunk by 0 to 2 voxels, holes filled.

    Args:
        brain_fraction: float (X, Y, Z) brain fraction in [0, 1].
        rng: the subject's generator.

    Returns:
        bool (X, Y, Z).
    """
    mask = ndimage.binary_fill_holes(brain_fraction > rng.uniform(0.2, 0.8))
    steps = int(rng.integers(-2, 3))
    if steps > 0:
        mask = ndimage.binary_dilation(mask, iterations=steps)
    elif steps < 0:
        mask = ndimage.binary_erosion(mask, iterations=-steps)
    return mask

"""The acquisition of co-registered structural contrasts as BraTS distributes them, applied to clean images.

Per contrast, in the order a scan goes through them:

1. residual misregistration to the reference contrast (BraTS co-registers every contrast to T1 post-contrast): a
   small random rotation and translation (MONAI :class:`~monai.transforms.Affine`);
2. a receive bias field of its own (MONAI :class:`~monai.transforms.RandBiasField`, Legendre polynomials of degree 3);
3. thick slices resampled to the grid, as for the many 2D acquisitions in BraTS (T1, T2 and FLAIR; the reference,
   T1 post-contrast, is usually a 3D acquisition and keeps the grid's resolution): slices of random thickness along a
   random axis (axial more often), averaged over their thickness and interpolated back (MONAI
   :class:`~monai.transforms.Resize`, ``area`` down, ``trilinear`` up); and, on every contrast, sometimes a lower
   resolution in all directions (MONAI :class:`~monai.transforms.RandSimulateLowResolution`);
4. Rician noise (a level per subject, varied a little per contrast), then zero outside the brain (skull-stripped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from monai.transforms import Affine, RandBiasField, RandSimulateLowResolution, Resize

__all__ = ["add_rician_noise", "misregister", "thick_slices", "acquire_contrasts"]


def add_rician_noise(image: np.ndarray, brain: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` with Rician noise, then set to 0 outside ``brain`` (skull-stripped, as BraTS distributes its images).

    Args:
        image: float (X, Y, Z) magnitude image.
        brain: (X, Y, Z) brain mask.
        level: noise standard deviation as a fraction of the image's 99th percentile in ``brain``.
        rng: draws the noise.

    Returns:
        float32 (X, Y, Z).
    """
    sigma = level * float(np.percentile(image[brain > 0], 99))
    real = image + rng.normal(0.0, sigma, image.shape)
    noisy = np.sqrt(real**2 + rng.normal(0.0, sigma, image.shape) ** 2)
    return (noisy * (brain > 0)).astype(np.float32)


def misregister(
    image: np.ndarray, voxel_size: Sequence[float], rng: np.random.Generator, max_mm: float, max_deg: float
) -> np.ndarray:
    """``image`` (float (X, Y, Z)) moved by a random rigid transform about its centre: rotations up to ``max_deg``
    degrees about each axis, translations up to ``max_mm`` mm along each; float32 (X, Y, Z), bilinear, zero outside."""
    rotation = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    translation = rng.uniform(-max_mm, max_mm, 3) / np.asarray(voxel_size, dtype=np.float64)
    moved = Affine(
        rotate_params=rotation.tolist(),
        translate_params=translation.tolist(),
        mode="bilinear",
        padding_mode="zeros",
        image_only=True,
    )(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None])
    return np.asarray(moved)[0].astype(np.float32)


def thick_slices(image: np.ndarray, axis: int, factor: float) -> np.ndarray:
    """``image`` (float (X, Y, Z)) acquired in slices ``factor`` voxels thick along ``axis`` (box slice profile: the
    mean over each slice) and interpolated back to its grid (trilinear); float32 (X, Y, Z)."""
    shape = tuple(int(s) for s in image.shape)
    low = list(shape)
    low[axis] = max(2, int(round(shape[axis] / factor)))
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    tensor = Resize(tuple(low), mode="area")(tensor)
    tensor = Resize(shape, mode="trilinear", align_corners=False)(tensor)
    return np.asarray(tensor)[0].astype(np.float32)


def acquire_contrasts(
    images: Mapping[str, np.ndarray],
    brain: np.ndarray,
    voxel_size: Sequence[float],
    rng: np.random.Generator,
    noise: float,
    bias: tuple[float, float] = (-0.15, 0.15),
    slice_thickness_mm: tuple[float, float] = (2.0, 6.0),
    misregistration_mm: float = 1.5,
    misregistration_deg: float = 1.5,
    reference: str = "t1ce",
) -> dict[str, np.ndarray]:
    """Apply the acquisition of the module docstring to each contrast of one subject.

    Args:
        images: contrast -> clean float (X, Y, Z) image.
        brain: (X, Y, Z) brain mask (the skull-stripping mask, common to the contrasts).
        voxel_size: mm per axis.
        rng: the subject's generator (every random draw comes from it).
        noise: the subject's Rician noise level (fraction of the 99th brain percentile); each contrast gets it times
            a factor in [0.8, 1.25].
        bias: range of the bias field's polynomial coefficients (MONAI ``RandBiasField`` ``coeff_range``; the default
            makes the field vary by about 20-55 % across the brain).
        slice_thickness_mm: range of the slice thickness of the contrasts other than ``reference``; slices thinner
            than 1.1 voxels are left alone.
        misregistration_mm, misregistration_deg: largest translation and rotation of the contrasts other than
            ``reference``.
        reference: the contrast the others are registered to (not moved, 3D: no thick slices).

    Returns:
        contrast -> float32 (X, Y, Z) image, zero outside ``brain``.

    Example::

        noisy = acquire_contrasts(subject.images, subject.brain_mask, (2.0, 2.0, 2.0), rng, noise=0.03)
    """
    vs = np.asarray(voxel_size, dtype=np.float64)
    out = {}
    for contrast, image in images.items():
        image = np.asarray(image, dtype=np.float32)
        if contrast != reference and (misregistration_mm > 0 or misregistration_deg > 0):
            image = misregister(image, vs, rng, misregistration_mm, misregistration_deg)
        field = RandBiasField(degree=3, coeff_range=bias, prob=1.0)
        field.set_random_state(int(rng.integers(2**31)))
        image = np.asarray(field(image[None]))[0]
        axis = int(rng.choice(3, p=[0.2, 0.2, 0.6]))  # sagittal, coronal, axial slices
        factor = rng.uniform(*slice_thickness_mm) / vs[axis]
        if contrast != reference and factor > 1.1:
            image = thick_slices(image, axis, factor)
        in_plane = RandSimulateLowResolution(prob=0.3, zoom_range=(0.6, 0.9))
        in_plane.set_random_state(int(rng.integers(2**31)))
        image = np.asarray(in_plane(torch.from_numpy(np.ascontiguousarray(image))[None]))[0]
        out[contrast] = add_rician_noise(np.clip(image, 0.0, None), brain, noise * rng.uniform(0.8, 1.25), rng)
    return out

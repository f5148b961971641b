"""Low-resolution MR images from high-resolution ones: slice-profile blur, downsampling and noise.

A thick-slice (or low-resolution) acquisition is simulated as in Liu et al. 2018 and most MR super-resolution work:
along each axis reduced by an integer factor ``f`` the high-resolution (HR) image is blurred with a Gaussian slice
profile whose full width at half maximum (FWHM) is the new voxel size (``f`` HR voxels), then every ``f``-th voxel
is kept, and noise is added to the low-resolution (LR) image (Rician for magnitude images, or Gaussian).

Geometry: LR voxel ``k`` is centred on HR voxel ``k * f``, so the LR affine is ``hr_affine @ diag(f, 1)`` (same
origin, ``f`` times the voxel size along the reduced axes) and the LR image has ``ceil(n / f)`` voxels along them.
:class:`~mri_monai.super_resolution.transforms.InterpolateToGrid` inverts this mapping to put the LR image back on
the HR grid.

For training that should generalise beyond one acquisition, :class:`DegradeResolution` can draw the slice profile's
FWHM (relative to the new slice thickness, ``fwhm_range``) and the noise level (``noise_range``) per call from
uniform ranges; by default both are fixed (FWHM = slice thickness, ``noise_level``), as evaluation and inference use
them.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import ImageMetaKey, MetaKeys
from scipy.ndimage import gaussian_filter1d

from mri_monai.denoising.noise import rician_noise

__all__ = [
    "DegradeResolution",
    "DegradeResolutiond",
    "check_scale",
    "degrade_resolution",
    "low_resolution_affine",
    "slice_profile_sigma",
]

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))  # Gaussian: FWHM = 2 sqrt(2 ln 2) sigma
NOISE_TYPES = ("rician", "gaussian")


def check_scale(scale: Sequence[int] | int, spatial_dims: int = 3) -> tuple[int, ...]:
    """The per-axis integer reduction factors, e.g. ``(1, 1, 2)`` for twice thicker slices along the third axis.

    Args:
        scale: one factor per spatial axis, or one factor for all of them.
        spatial_dims: number of spatial axes.

    Raises:
        ValueError: a factor that is not an integer >= 1, or the wrong number of factors.
    """
    factors = (scale,) * spatial_dims if isinstance(scale, (int, float)) else tuple(scale)
    if len(factors) != spatial_dims or any(float(f) != int(f) or int(f) < 1 for f in factors):
        raise ValueError(f"scale must be {spatial_dims} integer factors >= 1, got {scale}")
    return tuple(int(f) for f in factors)


def slice_profile_sigma(factor: int, relative_fwhm: float = 1.0) -> float:
    """Standard deviation, in HR voxels, of the Gaussian slice profile whose FWHM is ``relative_fwhm * factor`` HR
    voxels (``relative_fwhm`` 1: the FWHM is the new slice thickness)."""
    return relative_fwhm * factor * FWHM_TO_SIGMA


def _check_range(name: str, value: Sequence[float] | None, low: float, strict: bool) -> tuple[float, float] | None:
    """``value`` as a ``(low, high)`` tuple of finite floats above ``low`` (or at least ``low``), or ``None``."""
    if value is None:
        return None
    bounds = tuple(float(v) for v in value)
    if (
        len(bounds) != 2
        or not all(np.isfinite(bounds))
        or bounds[0] > bounds[1]
        or (bounds[0] <= low if strict else bounds[0] < low)
    ):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be (low, high) with {relation} {low} and low <= high, got {value}")
    return bounds


def low_resolution_affine(affine: np.ndarray | torch.Tensor, scale: Sequence[int]) -> torch.Tensor:
    """The (4, 4) affine of the LR grid: LR voxel ``k`` is centred on HR voxel ``k * f`` along each axis.

    Args:
        affine: (4, 4) HR voxel-to-world matrix.
        scale: one integer factor per spatial axis.

    Returns:
        ``affine @ diag(*scale, 1)`` as a float64 tensor.
    """
    affine = torch.as_tensor(affine, dtype=torch.float64)
    return affine @ torch.diag(torch.tensor([*map(float, scale), 1.0], dtype=torch.float64))


def degrade_resolution(
    image: torch.Tensor,
    scale: Sequence[int],
    noise_level: float = 0.02,
    noise: str = "rician",
    generator: torch.Generator | None = None,
    relative_fwhm: float = 1.0,
) -> torch.Tensor:
    """Blur with the slice profile, downsample and add noise.

    Args:
        image: HR image (C, *spatial); a :class:`~monai.data.MetaTensor` gives a MetaTensor with the LR affine (and
            the input's ``applied_operations``, so ``Invertd`` can still undo what was done before).
        scale: one integer reduction factor per spatial axis (see :func:`check_scale`).
        noise_level: noise standard deviation (per component for Rician noise) as a fraction of the LR maximum;
            0 adds no noise.
        noise: ``"rician"`` (magnitude of complex Gaussian noise, :func:`~mri_monai.denoising.noise.rician_noise`)
            or ``"gaussian"``.
        generator: random generator of the noise (``None``: torch's global one).
        relative_fwhm: FWHM of the Gaussian slice profile as a fraction of the new slice thickness (1: FWHM = slice
            thickness, e.g. 2 mm for x2 from 1 mm; 1.25: 2.5 mm).

    Returns:
        the LR image, (C, *[ceil(n / f) for n, f in zip(spatial, scale)]), float32.

    Example::

        lr = degrade_resolution(hr, scale=(1, 1, 2))  # (1, 160, 192, 160) -> (1, 160, 192, 80), 2 mm slices
    """
    scale = check_scale(scale, image.ndim - 1)
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}, got {noise!r}")
    if not np.isfinite(noise_level) or noise_level < 0:
        raise ValueError(f"noise_level must be a finite fraction >= 0 of the maximum, got {noise_level}")
    if not np.isfinite(relative_fwhm) or relative_fwhm <= 0:
        raise ValueError(f"relative_fwhm must be a finite fraction > 0 of the slice thickness, got {relative_fwhm}")
    array = image.detach().cpu().numpy().astype(np.float32)
    index: list[slice] = [slice(None)]
    for axis, f in enumerate(scale, start=1):
        if f > 1:
            array = gaussian_filter1d(array, slice_profile_sigma(f, relative_fwhm), axis=axis, mode="nearest")
        index.append(slice(None, None, f))
    lr = torch.from_numpy(np.ascontiguousarray(array[tuple(index)]))
    if noise_level > 0 and lr.numel():
        sigma = noise_level * float(lr.max())
        if noise == "rician":
            lr = rician_noise(lr, sigma, generator)
        else:  # the real part of the same draw as rician_noise's: one seed gives the same n[0] for both types
            lr = lr + torch.randn((2, *lr.shape), generator=generator, dtype=lr.dtype)[0] * sigma
    if isinstance(image, MetaTensor):
        meta = dict(image.meta)
        meta[MetaKeys.AFFINE] = low_resolution_affine(image.affine, scale)
        lr = MetaTensor(lr, meta=meta, applied_operations=list(image.applied_operations))
    return lr.to(image.device)


class DegradeResolution(RandomizableTransform):
    """Array transform: the LR image of an HR image (slice-profile blur, downsampling, noise; random noise).

    Args:
        scale: one integer reduction factor per spatial axis, e.g. ``(1, 1, 2)``: slices twice as thick along the
            third axis (x2 through-plane), ``(1, 1, 4)`` (x4 through-plane), ``(2, 2, 2)`` (isotropic x2).
        noise_level: noise standard deviation as a fraction of the LR maximum.
        noise: ``"rician"`` or ``"gaussian"``.
        fwhm_range: ``(low, high)``: draw the slice profile's FWHM, relative to the new slice thickness, uniformly
            from this range for every image (e.g. ``(0.75, 1.25)``: 1.5-2.5 mm for 2 mm slices); ``None`` (default):
            FWHM = slice thickness.
        noise_range: ``(low, high)``: draw the noise level uniformly from this range for every image instead of
            using ``noise_level`` (e.g. ``(0.005, 0.05)``); ``None`` (default): ``noise_level``.

    Raises:
        ValueError: a range with low > high, a non-positive FWHM bound or a negative noise bound.

    Shapes:
        input: (C, *spatial); output: (C, *ceil(spatial / scale)), with the LR affine when the input is a MetaTensor.

    Example::

        lr = DegradeResolution(scale=(1, 1, 2), noise_level=0.02)(hr)
        train = DegradeResolution((1, 1, 2), fwhm_range=(0.75, 1.25), noise_range=(0.005, 0.05))  # random per call
    """

    def __init__(
        self,
        scale: Sequence[int] | int = (1, 1, 2),
        noise_level: float = 0.02,
        noise: str = "rician",
        fwhm_range: Sequence[float] | None = None,
        noise_range: Sequence[float] | None = None,
    ):
        RandomizableTransform.__init__(self, prob=1.0)
        self.scale = scale
        self.noise_level = float(noise_level)
        self.noise = noise
        self.fwhm_range = _check_range("fwhm_range", fwhm_range, 0.0, strict=True)
        self.noise_range = _check_range("noise_range", noise_range, 0.0, strict=False)
        self._seed = 0

    def randomize(self, data: object = None) -> None:
        """Draw the seed of the noise (and of the slice profile and noise level when they are drawn from ranges)."""
        self._seed = int(self.R.randint(2**31 - 1))

    def acquisition(self, seed: int) -> tuple[float, float]:
        """The relative slice-profile FWHM and the noise level of the image degraded with ``seed``."""
        if self.fwhm_range is None and self.noise_range is None:
            return 1.0, self.noise_level
        rng = np.random.default_rng(seed)
        fwhm = 1.0 if self.fwhm_range is None else float(rng.uniform(*self.fwhm_range))
        level = self.noise_level if self.noise_range is None else float(rng.uniform(*self.noise_range))
        return fwhm, level

    def __call__(self, img: torch.Tensor, randomize: bool = True, seed: int | None = None) -> torch.Tensor:
        """Return the LR image of ``img``; ``seed`` (if given) seeds the noise (and the drawn slice profile and noise
        level) instead of the random state."""
        if randomize and seed is None:
            self.randomize()
        seed = self._seed if seed is None else int(seed)
        fwhm, level = self.acquisition(seed)
        generator = torch.Generator().manual_seed(seed)
        return degrade_resolution(torch.as_tensor(img), self.scale, level, self.noise, generator, fwhm)


class DegradeResolutiond(RandomizableTransform, MapTransform):
    """Dictionary version of :class:`DegradeResolution`.

    Args:
        keys: keys of the HR images, replaced by their LR images.
        scale: one integer reduction factor per spatial axis.
        noise_level: noise standard deviation as a fraction of the LR maximum.
        noise: ``"rician"`` or ``"gaussian"``.
        fwhm_range: range of the slice profile's FWHM relative to the slice thickness, drawn per image (training);
            ``None`` (default): FWHM = slice thickness. See :class:`DegradeResolution`.
        noise_range: range of the noise level, drawn per image instead of ``noise_level`` (training); ``None``
            (default): ``noise_level``.
        deterministic: seed the noise from ``seed`` and the image's file name (``filename_or_obj``), so a file is
            always degraded the same way (evaluation, inference); ``False``: random noise (training).
        seed: base seed of the deterministic noise.
        allow_missing_keys: do not raise for missing keys.

    Example::

        d = DegradeResolutiond("lr", scale=(1, 1, 2), deterministic=True)({"lr": hr})  # d["lr"]: (1, X, Y, Z / 2)
    """

    def __init__(
        self,
        keys: KeysCollection,
        scale: Sequence[int] | int = (1, 1, 2),
        noise_level: float = 0.02,
        noise: str = "rician",
        deterministic: bool = False,
        seed: int = 0,
        allow_missing_keys: bool = False,
        fwhm_range: Sequence[float] | None = None,
        noise_range: Sequence[float] | None = None,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        self.degrade = DegradeResolution(scale, noise_level, noise, fwhm_range, noise_range)
        self.deterministic = deterministic
        self.seed = int(seed)

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> DegradeResolutiond:
        """Set the random state of this transform and of its array transform."""
        super().set_random_state(seed, state)
        self.degrade.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Replace ``data[key]`` by its LR image for every key."""
        d = dict(data)
        for key in self.key_iterator(d):
            img = torch.as_tensor(d[key])
            seed = None
            if self.deterministic:
                name = str(getattr(img, "meta", {}).get(ImageMetaKey.FILENAME_OR_OBJ, key))
                seed = zlib.crc32(f"{self.seed}:{name}".encode()) & 0x7FFFFFFF
            d[key] = self.degrade(img, randomize=not self.deterministic, seed=seed)
        return d

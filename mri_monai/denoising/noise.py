"""Rician noise of magnitude MR images: simulation (array and dictionary MONAI transforms) and estimation.

A magnitude image is the modulus of a complex image whose real and imaginary parts carry independent Gaussian
noise of the same standard deviation ``sigma``: ``M = |A + n_r + i n_i|`` with ``n_r, n_i ~ N(0, sigma^2)``. Where the
signal ``A`` is zero, ``M`` follows a Rayleigh distribution (mean ``sigma * sqrt(pi / 2)``); where ``A >> sigma`` it is
close to Gaussian around ``A`` (Gudbjartsson and Patz 1995, https://doi.org/10.1002/mrm.1910340618).

Noise levels are given as fractions of the image maximum: level 0.05 means ``sigma = 0.05 * max(image)``.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import ImageMetaKey, ensure_tuple_rep
from skimage.filters import threshold_otsu

__all__ = [
    "RandRicianNoise",
    "RandRicianNoised",
    "RicianNoised",
    "estimate_noise_sigma",
    "level_name",
    "rician_noise",
]

_MAD_TO_SIGMA = 0.6745  # median(|N(0, 1)|)


def rician_noise(image: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The magnitude of ``image`` plus complex Gaussian noise of standard deviation ``sigma`` per component.

    Args:
        image: noise-free magnitude image of any shape (a :class:`~monai.data.MetaTensor` stays one).
        sigma: standard deviation of the real and of the imaginary noise, in the units of ``image``.
        generator: random generator of the noise (``None``: torch's global one).

    Returns:
        ``|image + n_r + i n_i|``, same shape and floating dtype as ``image``.
    """
    image = image if image.is_floating_point() else image.float()
    noise = torch.randn((2, *image.shape), generator=generator, dtype=image.dtype, device=image.device) * sigma
    return torch.sqrt((image + noise[0]) ** 2 + noise[1] ** 2)


def level_name(level: float) -> str:
    """``0.05 -> "5pct"``: a noise level as the suffix of per-level metric names."""
    return f"{float(level) * 100:g}pct"


def _sigma(image: torch.Tensor, level: float) -> float:
    return float(level) * float(image.max()) if image.numel() else 0.0


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(float(v) for v in levels)
    if not levels or any(not np.isfinite(v) or v <= 0 for v in levels):
        raise ValueError(f"noise levels must be a non-empty list of positive fractions of the maximum, got {levels}")
    return levels


def _check_range(level_range: Sequence[float] | None) -> tuple[float, float] | None:
    if level_range is None:
        return None
    values = tuple(float(v) for v in level_range)
    if len(values) != 2 or not all(np.isfinite(values)) or not 0 < values[0] <= values[1]:
        raise ValueError(f"level_range must be (low, high) with 0 < low <= high, got {values}")
    return values[0], values[1]


class RandRicianNoise(RandomizableTransform):
    """Add Rician noise at a level drawn from ``levels``, or log-uniformly from ``level_range`` (fractions of the
    image maximum).

    Args:
        levels: noise levels to draw from with equal probability, e.g. ``(0.03, 0.05, 0.1)``.
        prob: probability of adding noise.
        level_range: ``(low, high)``: draw the level log-uniformly between them instead (every octave of noise
            equally often, as Mohan et al. 2020 train blind denoisers), e.g. ``(0.01, 0.15)``; ``None``: use
            ``levels``.

    After a call, ``self.level`` holds the level used (``0.0`` when no noise was added).

    Shapes:
        input: (C, *spatial); output: the same. The maximum is taken over the whole input.

    Example::

        noisy = RandRicianNoise(levels=(0.03, 0.05, 0.1))(clean)  # sigma = level * clean.max()
    """

    def __init__(
        self,
        levels: Sequence[float] = (0.03, 0.05, 0.1),
        prob: float = 1.0,
        level_range: Sequence[float] | None = None,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        self.levels = _check_levels(levels)
        self.level_range = _check_range(level_range)
        self.level = 0.0
        self._seed = 0

    def randomize(self, data: object = None) -> None:
        """Draw whether to add noise, the level and the seed of the noise."""
        super().randomize(None)
        if self._do_transform:
            if self.level_range is None:
                self.level = float(self.levels[self.R.randint(len(self.levels))])
            else:
                self.level = float(np.exp(self.R.uniform(*np.log(self.level_range))))
            self._seed = int(self.R.randint(2**31 - 1))
        else:
            self.level = 0.0

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Return ``img`` with Rician noise (or ``img`` itself when no noise is drawn)."""
        img = torch.as_tensor(img)
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        generator = torch.Generator(device=img.device).manual_seed(self._seed)
        return rician_noise(img, _sigma(img, self.level), generator)


class RandRicianNoised(RandomizableTransform, MapTransform):
    """Dictionary version of :class:`RandRicianNoise`: one level and one noise seed drawn per call, used for every key.

    Args:
        keys: keys of the images to corrupt.
        levels: noise levels (fractions of each image's maximum) to draw from.
        prob: probability of adding noise.
        level_range: ``(low, high)``: draw the level log-uniformly between them instead of from ``levels``.
        reference_keys: keys under which the noise-free images are kept (one per key), e.g. ``"label"`` to train
            a denoiser; ``None``: not kept.
        level_key: key under which the level used is stored (``0.0`` when no noise was added); ``None``: not stored.
        allow_missing_keys: do not raise for missing keys.

    Example::

        t = RandRicianNoised("image", levels=(0.03, 0.05, 0.1), reference_keys="label", level_key="noise_level")
        d = t({"image": clean})  # d["image"] noisy, d["label"] clean, d["noise_level"] in levels
    """

    def __init__(
        self,
        keys: KeysCollection,
        levels: Sequence[float] = (0.03, 0.05, 0.1),
        prob: float = 1.0,
        level_range: Sequence[float] | None = None,
        reference_keys: KeysCollection | None = None,
        level_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.noise = RandRicianNoise(levels, prob=1.0, level_range=level_range)
        self.reference_keys = None if reference_keys is None else ensure_tuple_rep(reference_keys, len(self.keys))
        self.level_key = level_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandRicianNoised:
        """Set the random state of this transform and of its array transform."""
        super().set_random_state(seed, state)
        self.noise.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Corrupt ``data[key]`` for every key; keep the references and the level when asked."""
        d = dict(data)
        self.randomize(None)
        level = 0.0
        if self._do_transform:
            self.noise.randomize()
            level = self.noise.level
        references = self.reference_keys or (None,) * len(self.keys)
        for key, reference in self.key_iterator(d, references):
            if reference is not None:
                d[reference] = d[key].clone() if isinstance(d[key], torch.Tensor) else torch.as_tensor(d[key])
            if self._do_transform:
                d[key] = self.noise(d[key], randomize=False)
        if self.level_key is not None:
            d[self.level_key] = level
        return d


class RicianNoised(MapTransform):
    """Add Rician noise at the level stored in each item (deterministic, for evaluation and demonstrations).

    The noise is seeded by ``seed``, the level and the item's file name (``filename_or_obj`` of its meta data), so
    the same file at the same level always receives the same noise, whatever the data loader's order or number of
    workers. A level of 0 leaves the item unchanged and stores no reference (there is no noise-free image then).

    Args:
        keys: keys of the images to corrupt.
        level_key: key of the noise level (fraction of each image's maximum) in the item.
        reference_keys: keys under which the noise-free images are kept when noise is added; ``None``: not kept.
        seed: base seed of the noise.
        allow_missing_keys: do not raise for missing keys.

    Example::

        d = RicianNoised("image", reference_keys="label")({"image": clean, "noise_level": 0.05})
    """

    def __init__(
        self,
        keys: KeysCollection,
        level_key: str = "noise_level",
        reference_keys: KeysCollection | None = None,
        seed: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.level_key = level_key
        self.reference_keys = None if reference_keys is None else ensure_tuple_rep(reference_keys, len(self.keys))
        self.seed = int(seed)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Corrupt ``data[key]`` for every key at level ``data[level_key]``."""
        d = dict(data)
        if self.level_key not in d:
            raise KeyError(f"noise level key {self.level_key!r} is missing from the item (keys: {sorted(map(str, d))})")
        level = float(d[self.level_key])
        if not np.isfinite(level) or level < 0:
            raise ValueError(f"noise level must be a finite fraction >= 0 of the maximum, got {level}")
        if level == 0:
            return d
        references = self.reference_keys or (None,) * len(self.keys)
        for key, reference in self.key_iterator(d, references):
            img = torch.as_tensor(d[key])
            name = str(getattr(img, "meta", {}).get(ImageMetaKey.FILENAME_OR_OBJ, key))
            seed = zlib.crc32(f"{self.seed}:{name}:{level:.6g}".encode()) & 0x7FFFFFFF
            generator = torch.Generator(device=img.device).manual_seed(seed)
            if reference is not None:
                d[reference] = img.clone()
            d[key] = rician_noise(img, _sigma(img, level), generator)
        return d


def estimate_noise_sigma(image: np.ndarray | torch.Tensor) -> float:
    """Estimate the Gaussian ``sigma`` of Rician noise from the object region of a magnitude image.

    The estimator of Donoho and Johnstone (1994) that :func:`skimage.restoration.estimate_sigma` uses (median
    absolute finest-scale diagonal wavelet coefficient / 0.6745), with an orthonormal Haar wavelet on each 2D slice,
    restricted to the object (block means above Otsu's threshold) as Coupé et al. propose for Rician noise:
    in the background the Rayleigh-distributed magnitude would bias it low (Coupé P et al. Robust Rician noise
    estimation for MR images. Med Image Anal 2010;14:483-493, https://doi.org/10.1016/j.media.2010.03.001).
    ``skimage.restoration.estimate_sigma`` itself needs PyWavelets, which is not a dependency.

    Args:
        image: magnitude image, (H, W) or (H, W, D) (slices along the last axis), at least 2 x 2 in-plane.

    Returns:
        the estimated ``sigma`` in the units of ``image`` (0.0 for a constant image).
    """
    x = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need an (H, W) or (H, W, D) image with H, W >= 2, got shape {x.shape}")
    x = x[: x.shape[0] // 2 * 2, : x.shape[1] // 2 * 2]
    a, b, c, e = x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]
    diagonal = (a - b - c + e) / 2.0  # orthonormal Haar HH coefficients: standard deviation sigma for white noise
    block_mean = (a + b + c + e) / 4.0
    if np.ptp(block_mean) == 0:
        return 0.0
    obj = block_mean > threshold_otsu(block_mean)
    return float(np.median(np.abs(diagonal[obj])) / _MAD_TO_SIGMA)

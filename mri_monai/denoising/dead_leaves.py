"""Dead-leaves images: a generic, scale-invariant image prior with sharp edges, mixed into denoiser training.

A dead-leaves image is a stack of opaque discs of random intensity whose radii follow a power law, so that it has
edges at every scale and the statistics (power spectrum, edge and flat-region distribution) of natural images.
Denoisers trained on such images alone come within about a decibel of those trained on photographs (Achddou et
al., "Synthetic images as a regularity prior for image restoration neural networks", SSVM 2021; Madhusudana et al.,
"Revisiting dead leaves model: training with synthetic data", IEEE SPL 2021). Mixed into the domain-randomised
brains, they keep a denoiser from learning that every image is as smooth as the MNI152 average brain, the cause of
edge blur on real scans (issue #28).

References:
    Lee AB, Mumford D, Huang J. Occlusion models for natural images: a statistical study of a scale-invariant dead
    leaves model. International Journal of Computer Vision 2001; 41:35-59.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform
from scipy import ndimage

__all__ = ["dead_leaves", "RandDeadLeavesd"]


def dead_leaves(
    shape: Sequence[int],
    rng: np.random.Generator,
    radius_range: tuple[float, float] = (1.0, 48.0),
    exponent: float = 3.0,
    max_leaves: int = 20000,
    blur_sigma: float = 0.0,
) -> np.ndarray:
    """A 2D dead-leaves image in [0, 1].

    Discs are laid front to back (each paints only the pixels no earlier disc covers) until the image is covered or
    ``max_leaves`` are laid. Radii are drawn with density proportional to ``r ** -exponent`` on ``radius_range``
    (3 is scale invariant in 2D), intensities uniformly in [0, 1], centres uniformly over the image and a margin.

    Args:
        shape: (H, W).
        rng: the generator.
        radius_range: smallest and largest radius, pixels.
        exponent: power-law exponent of the radius density (> 1).
        max_leaves: at most this many discs; the uncovered rest keeps the last intensity.
        blur_sigma: Gaussian blur of the result, pixels (0: sharp edges).

    Returns:
        float32 (H, W).

    Raises:
        ValueError: a shape that is not 2D and positive, a bad radius range or exponent.
    """
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be two positive sizes, got {tuple(shape)}")
    r_min, r_max = radius_range
    if not 0 < r_min <= r_max:
        raise ValueError(f"radius_range must be 0 < low <= high, got {radius_range}")
    if exponent <= 1:
        raise ValueError(f"exponent must be > 1, got {exponent}")
    h, w = int(shape[0]), int(shape[1])
    image = np.zeros((h, w), dtype=np.float32)
    covered = np.zeros((h, w), dtype=bool)
    left = h * w
    # inverse-CDF draws of r with density r ** -exponent on [r_min, r_max]
    a, b = r_min ** (1 - exponent), r_max ** (1 - exponent)
    radii = (a + rng.random(max_leaves) * (b - a)) ** (1 / (1 - exponent))
    centres = rng.uniform(-r_max / 2, np.array([h, w]) + r_max / 2, (max_leaves, 2))
    values = rng.random(max_leaves).astype(np.float32)
    value = 0.0
    for r, (cy, cx), value in zip(radii, centres, values, strict=True):
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, h)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & ~covered[y0:y1, x0:x1]
        n = int(disc.sum())
        if n:
            image[y0:y1, x0:x1][disc] = value
            covered[y0:y1, x0:x1] |= disc
            left -= n
            if left == 0:
                break
    image[~covered] = value
    if blur_sigma > 0:
        image = ndimage.gaussian_filter(image, blur_sigma)
    return image


class RandDeadLeavesd(RandomizableTransform, MapTransform):
    """With probability ``prob``, replace 2D images by one dead-leaves image (the same for every key).

    Used on clean training patches before the noise is added, so that the clean target (``label``) and the input
    (``image``) agree. The dead-leaves image is scaled to ``[0, scale]`` where ``scale`` is drawn uniformly from
    ``intensity_range`` (in the units of the patches, e.g. 1 for the 99.5th percentile after
    :class:`~mri_monai.data.transforms.ScaleByPercentiled`); with probability ``blur_prob`` it is blurred by a
    Gaussian of standard deviation drawn from ``blur_sigma_range`` (partial-volume edges).

    Args:
        keys: keys of (C, H, W) images, all of the same shape.
        prob: probability of replacing them.
        radius_range, exponent: of :func:`dead_leaves`.
        intensity_range: range of the brightest intensity.
        blur_prob: probability of a blur.
        blur_sigma_range: its standard deviation range, pixels.
        allow_missing_keys: do not raise for missing keys.

    Example::

        t = RandDeadLeavesd(["image", "label"], prob=0.3)
        d = t({"image": clean_patch, "label": clean_patch.clone()})  # (1, 64, 64) each
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.3,
        radius_range: tuple[float, float] = (1.0, 48.0),
        exponent: float = 3.0,
        intensity_range: tuple[float, float] = (0.5, 1.0),
        blur_prob: float = 0.3,
        blur_sigma_range: tuple[float, float] = (0.3, 0.8),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.radius_range = radius_range
        self.exponent = exponent
        self.intensity_range = intensity_range
        self.blur_prob = blur_prob
        self.blur_sigma_range = blur_sigma_range

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Replace every key's image by the same dead-leaves image with probability ``prob``."""
        d = dict(data)
        self.randomize(None)
        if not self._do_transform:
            return d
        first = d[self.first_key(d)]
        if first.ndim != 3:
            raise ValueError(f"RandDeadLeavesd needs (C, H, W) images, got shape {tuple(first.shape)}")
        rng = np.random.default_rng(int(self.R.randint(2**31)))
        blur = rng.uniform(*self.blur_sigma_range) if rng.random() < self.blur_prob else 0.0
        leaves = dead_leaves(first.shape[1:], rng, self.radius_range, self.exponent, blur_sigma=blur)
        leaves = leaves * np.float32(rng.uniform(*self.intensity_range))
        for key in self.key_iterator(d):
            img = d[key]
            new = np.broadcast_to(leaves, img.shape)
            d[key] = img.clone().copy_(torch.from_numpy(new.copy())) if isinstance(img, torch.Tensor) else new.copy()
        return d

"""Non-local means, the classical baseline of MR image denoising, made unbiased for Rician noise.

:func:`nlm_denoise` runs scikit-image's :func:`~skimage.restoration.denoise_nl_means` slice by slice with the noise
``sigma`` from :func:`~mri_monai.denoising.noise.estimate_noise_sigma`. With ``rician=True`` it is the unbiased NLM of
Manjón et al.: the weights are computed on the magnitude image, the weighted average is taken of the squared
magnitude, and the Rician bias ``2 sigma^2`` is removed, ``sqrt(max(NLM(M^2) - 2 sigma^2, 0))`` (Manjón JV et al.
MRI denoising using non-local means. Med Image Anal 2008;12:514-523, https://doi.org/10.1016/j.media.2008.02.004).
Plain NLM leaves the Rayleigh floor (about 1.25 sigma) in the background and a positive bias in dark tissue.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from skimage.restoration import denoise_nl_means

from .noise import estimate_noise_sigma

__all__ = ["NonLocalMeansd", "nlm_denoise"]

# scikit-image averages the patch distance over channels: the magnitude channel drives the weights alone (the scaled
# squared-magnitude channel adds nothing measurable) when h and sigma are divided by sqrt(2) for two channels.
_TWO_CHANNELS = np.sqrt(0.5)
_SQUARE_SCALE = 1e-4  # keeps the squared-magnitude channel out of the patch distance


def _nlm_slice(m: np.ndarray, sigma: float, h: float, patch_size: int, patch_distance: int, rician: bool) -> np.ndarray:
    kwargs = {"patch_size": patch_size, "patch_distance": patch_distance, "fast_mode": True, "preserve_range": True}
    if not rician:
        return denoise_nl_means(m, h=h, sigma=sigma, **kwargs)
    scale = _SQUARE_SCALE / max(float(m.max()), 1e-12) ** 2
    two = np.stack([m, m * m * scale], axis=-1)
    mean_square = denoise_nl_means(two, h=h * _TWO_CHANNELS, sigma=sigma * _TWO_CHANNELS, channel_axis=-1, **kwargs)
    return np.sqrt(np.maximum(mean_square[..., 1] / scale - 2.0 * sigma**2, 0.0))


def nlm_denoise(
    image: np.ndarray | torch.Tensor,
    sigma: float | None = None,
    h_factor: float = 0.8,
    patch_size: int = 5,
    patch_distance: int = 6,
    rician: bool = True,
) -> np.ndarray:
    """Denoise a magnitude image with (unbiased) non-local means, slice by slice along the last axis.

    Args:
        image: magnitude image (H, W) or (H, W, D).
        sigma: Gaussian noise sigma; ``None``: :func:`~mri_monai.denoising.noise.estimate_noise_sigma` of ``image``.
        h_factor: filtering parameter ``h = h_factor * sigma`` (scikit-image suggests 0.8 in fast mode).
        patch_size: side of the compared patches.
        patch_distance: search radius in pixels.
        rician: remove the Rician bias (unbiased NLM); ``False``: plain NLM of the magnitude.

    Returns:
        float32 array of the shape of ``image``; ``image`` itself (as float32) when ``sigma`` is 0.
    """
    x = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"need an (H, W) or (H, W, D) image, got shape {x.shape}")
    sigma = estimate_noise_sigma(x) if sigma is None else float(sigma)
    if sigma <= 0:
        return x.astype(np.float32)
    stack = x[..., None] if x.ndim == 2 else x
    out = np.stack(
        [
            _nlm_slice(stack[..., k], sigma, h_factor * sigma, patch_size, patch_distance, rician)
            for k in range(stack.shape[-1])
        ],
        axis=-1,
    )
    return out.reshape(x.shape).astype(np.float32)


class NonLocalMeansd(MapTransform):
    """Dictionary transform running :func:`nlm_denoise` on channel-first images.

    Args:
        keys: keys of the noisy images, (C, H, W) or (C, H, W, D); every channel is denoised on its own.
        output_keys: keys of the results (one per key); default: overwrite ``keys``.
        h_factor: see :func:`nlm_denoise`.
        patch_size: see :func:`nlm_denoise`.
        patch_distance: see :func:`nlm_denoise`.
        rician: see :func:`nlm_denoise`.
        allow_missing_keys: do not raise for missing keys.

    The result is a :class:`~monai.data.MetaTensor` with the input's meta data.

    Example::

        d = NonLocalMeansd("image", output_keys="nlm")({"image": noisy})  # d["nlm"]: (1, H, W, D)
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_keys: KeysCollection | None = None,
        h_factor: float = 0.8,
        patch_size: int = 5,
        patch_distance: int = 6,
        rician: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_keys = self.keys if output_keys is None else tuple(np.atleast_1d(output_keys).tolist())
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got {self.output_keys} for {self.keys}")
        self.options = {"h_factor": h_factor, "patch_size": patch_size, "patch_distance": patch_distance}
        self.rician = rician

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Write the NLM result of ``data[key]`` under the matching output key."""
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            img = d[key]
            channels = [nlm_denoise(c, rician=self.rician, **self.options) for c in torch.as_tensor(img).cpu()]
            result = torch.from_numpy(np.stack(channels))
            d[out_key] = MetaTensor(result, meta=dict(img.meta)) if isinstance(img, MetaTensor) else result
        return d

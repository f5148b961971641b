"""Simple baselines that generative networks must beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["InvertedHistogramMatching", "GaussianSampler", "MeanImageSampler"]


class InvertedHistogramMatching:
    """Contrast translation floor: invert intensities inside the head, then match a reference histogram.

    T1- and T2-weighted images order the tissues roughly oppositely (CSF dark/bright, white matter
    bright/dark), so reversing the source's foreground intensity ranks and mapping them onto the quantiles of
    target-contrast reference images (e.g. training subjects' T2w) is the classic no-learning translation.
    Background (values <= ``threshold``) stays 0.

    Args:
        reference: target-contrast images (any shapes) in the same intensity scale as the expected output.
        threshold: foreground is ``> threshold``, in the source and in the references.
        invert: reverse the intensity order (set ``False`` for contrasts that order tissues alike).
        num_quantiles: resolution of the reference quantile function.

    Shapes: ``__call__``: (B, C, *S) -> (B, C, *S).
    """

    def __init__(
        self,
        reference: Sequence[np.ndarray | torch.Tensor],
        threshold: float = 0.0,
        invert: bool = True,
        num_quantiles: int = 1024,
    ) -> None:
        values = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in reference])
        values = values[values > threshold]
        if values.size == 0:
            raise ValueError("the reference images have no foreground")
        self.levels = np.linspace(0, 1, num_quantiles)
        self.quantiles = np.quantile(values, self.levels)
        self.threshold = threshold
        self.invert = invert

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        data = image.detach().cpu().numpy().astype(np.float64)
        out = np.zeros_like(data)
        for index in np.ndindex(data.shape[:2]):
            source, target = data[index], out[index]
            foreground = source > self.threshold
            values = source[foreground]
            if values.size == 0:
                continue
            ranks = np.argsort(np.argsort(-values if self.invert else values, kind="stable"), kind="stable")
            target[foreground] = np.interp(ranks / max(values.size - 1, 1), self.levels, self.quantiles)
        return torch.as_tensor(out, dtype=image.dtype, device=image.device)


class GaussianSampler:
    """Synthesis baseline: images with each pixel drawn from a Gaussian of its mean and SD over real images.

    Matches every pixel's first two moments of the training slices, but has no anatomy or tissue contrast:
    a generator must beat it on tissue statistics to show it learned more than pixel-wise moments.

    Args:
        images: real images, (N, C, *S).
        seed: random seed of the samples.

    Shapes: ``sample(n)`` -> (n, C, *S), clipped to the real images' range.
    """

    def __init__(self, images: torch.Tensor, seed: int = 0) -> None:
        images = torch.as_tensor(images, dtype=torch.float32)
        self.mean, self.std = images.mean(0), images.std(0)
        self.low, self.high = float(images.min()), float(images.max())
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, n: int) -> torch.Tensor:
        noise = torch.randn((n, *self.mean.shape), generator=self.generator)
        return (self.mean + self.std * noise).clamp(self.low, self.high)


class MeanImageSampler:
    """Synthesis baseline: every sample is the mean real image (no diversity, blurred tissue boundaries).

    Args:
        images: real images, (N, C, *S).

    Shapes: ``sample(n)`` -> (n, C, *S).
    """

    def __init__(self, images: torch.Tensor) -> None:
        self.mean = torch.as_tensor(images, dtype=torch.float32).mean(0)

    def sample(self, n: int) -> torch.Tensor:
        return self.mean.expand(n, *self.mean.shape).clone()

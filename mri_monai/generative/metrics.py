"""Image-similarity and sample-quality metrics for generative models."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from monai.metrics import MAEMetric, MultiScaleSSIMMetric, PSNRMetric, SSIMMetric

__all__ = [
    "mutual_information",
    "translation_metrics",
    "nearest_ncc",
    "ms_ssim_diversity",
    "tissue_statistics",
    "frechet_distance",
]


def mutual_information(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, bins: int = 64) -> float:
    """Mutual information (nats) of the joint intensity histogram of two images of the same shape.

    Args:
        x, y: images of any identical shape.
        bins: histogram bins per image, over each image's own range.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    joint, _, _ = np.histogram2d(x, y, bins=bins)
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (px @ py)[nz])).sum())


def translation_metrics(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> dict[str, float]:
    """MAE, PSNR, SSIM and mutual information of a translated volume against the true target contrast.

    Args:
        pred: (1, C, *S) translated image, intensities in [0, ``data_range``].
        target: (1, C, *S) true image of the target contrast, same scale.
        data_range: intensity range for PSNR and SSIM.

    Returns:
        ``{"mae", "psnr", "ssim", "mi"}``; SSIM: MONAI's default 11-voxel Gaussian window (sigma 1.5), 3D for volumes.
    """
    pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target).float()
    dims = pred.ndim - 2
    return {
        "mae": float(MAEMetric()(pred, target).mean()),
        "psnr": float(PSNRMetric(max_val=data_range)(pred, target).mean()),
        "ssim": float(SSIMMetric(spatial_dims=dims, data_range=data_range)(pred, target).mean()),
        "mi": mutual_information(pred.cpu().numpy(), target.cpu().numpy()),
    }


def _normalised(images: torch.Tensor) -> torch.Tensor:
    flat = images.reshape(images.shape[0], -1).double()
    flat = flat - flat.mean(1, keepdim=True)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)


def nearest_ncc(queries: torch.Tensor, references: torch.Tensor, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised cross-correlation of each query image to its most similar reference image.

    A generator that memorises its training set has samples whose nearest-training NCC exceeds that of
    held-out real images (Bermudez et al. 2018 check their samples this way).

    Args:
        queries: (N, C, *S) images. references: (M, C, *S) images (e.g. every training slice).
        chunk: references compared at once (memory).

    Returns:
        ``(ncc, index)``: (N,) best NCC in [-1, 1] and (N,) index of the nearest reference.
    """
    q = _normalised(queries)
    best = torch.full((q.shape[0],), -2.0, dtype=torch.float64)
    index = torch.zeros(q.shape[0], dtype=torch.long)
    for start in range(0, references.shape[0], chunk):
        ncc = q @ _normalised(references[start : start + chunk]).T
        value, arg = ncc.max(1)
        better = value > best
        best[better], index[better] = value[better], arg[better] + start
    return best, index


def ms_ssim_diversity(images: torch.Tensor, max_pairs: int = 300, data_range: float = 1.0, seed: int = 0) -> float:
    """Mean multi-scale SSIM over pairs of images: lower means more diverse samples (Odena et al. 2017).

    Uses MONAI's ``MultiScaleSSIMMetric`` with a 7-pixel window and 4 scales, valid from 49 pixels a side.

    Args:
        images: (N, C, H, W) with N >= 2, intensities in [0, ``data_range``].
        max_pairs: at most this many random pairs are compared.
        data_range: intensity range.
        seed: seed of the pair selection.
    """
    pairs = list(itertools.combinations(range(images.shape[0]), 2))
    if not pairs:
        raise ValueError("need at least two images")
    rng = np.random.default_rng(seed)
    if len(pairs) > max_pairs:
        pairs = [pairs[i] for i in rng.choice(len(pairs), max_pairs, replace=False)]
    first = torch.stack([images[i] for i, _ in pairs]).float()
    second = torch.stack([images[j] for _, j in pairs]).float()
    metric = MultiScaleSSIMMetric(
        spatial_dims=images.ndim - 2, data_range=data_range, kernel_size=7, weights=(0.0448, 0.2856, 0.3001, 0.2363)
    )
    return float(metric(first, second).mean())


def tissue_statistics(images: torch.Tensor, threshold: float = 0.05) -> torch.Tensor:
    """Per-image tissue statistics: head fraction and the 5th-95th intensity percentiles inside the head.

    The percentiles of a brain slice's foreground describe its tissue mixture (CSF, grey and white matter
    intensities and their proportions), without needing a segmentation.

    Args:
        images: (N, C, *S) in [0, 1]; foreground is ``> threshold``.
        threshold: head/background threshold.

    Returns:
        (N, 6): foreground fraction and the 5, 25, 50, 75, 95 percentiles of the foreground.
    """
    levels = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64)
    rows = []
    for image in images:
        values = image.double().ravel()
        foreground = values[values > threshold]
        fraction = foreground.numel() / values.numel()
        percentiles = torch.quantile(foreground, levels) if foreground.numel() else torch.zeros(5, dtype=torch.float64)
        rows.append(torch.cat([torch.tensor([fraction], dtype=torch.float64), percentiles]))
    return torch.stack(rows)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (as FID, here on tissue statistics).

    Args:
        features_a: (N, F). features_b: (M, F); N, M >= 2.
    """
    from scipy import linalg

    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))

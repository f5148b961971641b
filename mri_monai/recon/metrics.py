"""fastMRI's image-quality metrics, per volume, with the volume maximum of the reference as the data range.

Definitions (Zbontar et al., arXiv:1811.08839, and fastMRI's ``evaluate.py``), for a reference volume ``gt`` and a
reconstruction ``pred`` of shape (slices, H, W):

- NMSE = ||gt - pred||^2 / ||gt||^2 over the volume;
- PSNR = 10 log10(max(gt)^2 / MSE) over the volume; this is MONAI's ``PSNRMetric`` with ``max_val = max(gt)``, which
  is used;
- SSIM: per slice with data range ``max(gt)`` of the volume, a uniform 7 x 7 window, k1 = 0.01, k2 = 0.03 and the
  sample (N - 1) covariance (``skimage.metrics.structural_similarity`` defaults), averaged over the valid (unpadded)
  window positions, then over the slices. MONAI's ``SSIMMetric`` with ``kernel_type="uniform", win_size=7`` uses the
  population covariance instead (about 2 % lower local variances), so the SSIM is computed here, as
  :func:`ssim_fastmri`. It is not the SSIM of the other bundles (MONAI's Gaussian window, 11 voxels, sigma 1.5).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import PSNRMetric

__all__ = ["nmse", "psnr", "reconstruction_scores", "ssim_fastmri", "volume_metrics"]

WIN_SIZE = 7
K1, K2 = 0.01, 0.03


def _volume(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu().to(torch.float64)
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3:
        raise ValueError(f"expected a (slices, H, W) or (H, W) volume, got shape {tuple(x.shape)}")
    return x


def nmse(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> float:
    """Normalised mean squared error ||gt - pred||^2 / ||gt||^2 of (slices, H, W) volumes."""
    gt, pred = _volume(gt), _volume(pred)
    return float(((gt - pred) ** 2).sum() / (gt**2).sum())


def psnr(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor, maxval: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB of (slices, H, W) volumes, data range ``maxval`` (default ``gt.max()``)."""
    gt, pred = _volume(gt), _volume(pred)
    maxval = float(gt.max()) if maxval is None else maxval
    return float(PSNRMetric(max_val=maxval)(pred.unsqueeze(0), gt.unsqueeze(0)).item())


def ssim_fastmri(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor, maxval: float | None = None) -> float:
    """Mean structural similarity of (slices, H, W) volumes as fastMRI computes it (see the module docstring)."""
    gt, pred = _volume(gt), _volume(pred)
    maxval = float(gt.max()) if maxval is None else maxval
    kernel = torch.full((1, 1, WIN_SIZE, WIN_SIZE), 1.0 / WIN_SIZE**2, dtype=torch.float64)
    x, y = gt.unsqueeze(1), pred.unsqueeze(1)
    ux, uy = F.conv2d(x, kernel), F.conv2d(y, kernel)
    uxx, uyy, uxy = F.conv2d(x * x, kernel), F.conv2d(y * y, kernel), F.conv2d(x * y, kernel)
    cov_norm = WIN_SIZE**2 / (WIN_SIZE**2 - 1)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (K1 * maxval) ** 2, (K2 * maxval) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return float(s.mean(dim=(1, 2, 3)).mean())


def volume_metrics(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> dict[str, float]:
    """``{"nmse", "psnr", "ssim"}`` of a (slices, H, W) reconstruction against its reference."""
    return {"nmse": nmse(gt, pred), "psnr": psnr(gt, pred), "ssim": ssim_fastmri(gt, pred)}


def reconstruction_scores(image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """The reconstruction bundles' case score: :func:`volume_metrics` of ``image`` (S, H, W) against ``reference``."""
    return volume_metrics(reference, image)

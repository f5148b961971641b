"""Image-quality metrics of enhanced images against a reference: the denoising bundle's case score.

PSNR and SSIM are MONAI's :class:`~monai.metrics.PSNRMetric` and :class:`~monai.metrics.SSIMMetric` with the data
range set to the reference's maximum (as fastMRI does), computed inside the bounding box of the reference's
foreground (so that the empty background around a skull-stripped brain does not dominate). SSIM is 2D, computed on
each slice along the last spatial axis (the slices the 2D networks see) and averaged.
"""

from __future__ import annotations

import torch
from monai.metrics import PSNRMetric, SSIMMetric

__all__ = ["denoising_scores", "foreground_box", "image_quality", "level_name"]


def foreground_box(reference: torch.Tensor, threshold: float = 0.0) -> tuple[slice, ...]:
    """Bounding box of the voxels of ``reference`` above ``threshold * reference.max()``.

    Args:
        reference: image (*spatial).
        threshold: fraction of the maximum; 0 keeps the nonzero voxels.

    Returns:
        one slice per spatial axis; the whole image when no voxel passes.
    """
    mask = reference > threshold * reference.max()
    if not bool(mask.any()):
        return tuple(slice(0, s) for s in reference.shape)
    idx = torch.nonzero(mask)
    low, high = idx.min(0).values, idx.max(0).values + 1
    return tuple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))


def image_quality(
    image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.0, win_size: int = 11
) -> dict[str, float]:
    """PSNR (dB) and mean 2D SSIM of ``image`` against ``reference`` inside the reference's foreground box.

    Args:
        image: (H, W) or (H, W, D), in the units of ``reference``.
        reference: noise-free image of the same shape.
        threshold: foreground threshold, see :func:`foreground_box`.
        win_size: SSIM Gaussian window (sigma 1.5); the box must be at least this large in-plane.

    Returns:
        ``{"psnr": ..., "ssim": ...}`` with the data range = ``reference.max()``.
    """
    image, reference = torch.as_tensor(image).float(), torch.as_tensor(reference).float()
    if image.shape != reference.shape or image.ndim not in (2, 3):
        raise ValueError(f"need two (H, W) or (H, W, D) images of one shape, got {image.shape}, {reference.shape}")
    data_range = float(reference.max())
    if data_range <= 0:
        raise ValueError("the reference has no positive value: PSNR and SSIM are undefined")
    box = foreground_box(reference, threshold)
    x, y = image[box] / data_range, reference[box] / data_range
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if min(x.shape[:2]) < win_size:
        raise ValueError(f"foreground box {tuple(x.shape)} is smaller than the SSIM window {win_size}")
    psnr = PSNRMetric(max_val=1.0)(x[None, None], y[None, None])
    slices_x, slices_y = x.permute(2, 0, 1)[:, None], y.permute(2, 0, 1)[:, None]  # (D, 1, H, W)
    ssim = SSIMMetric(spatial_dims=2, data_range=1.0, win_size=win_size)(slices_x, slices_y)
    return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean())}


def level_name(level: float) -> str:
    """``0.05 -> "5pct"``: the suffix of per-level metric names."""
    return f"{float(level) * 100:g}pct"


def denoising_scores(image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.0) -> dict[str, float]:
    """:func:`image_quality` of channel 0 of ``image`` (C, H, W[, D]) against ``reference``: the bundle's case score.

    Returns:
        ``{"psnr", "ssim"}``; SSIM is MONAI's Gaussian SSIM (window 11, sigma 1.5) per slice, not fastMRI's
        (:func:`mri_monai.recon.metrics.ssim_fastmri`).
    """
    return image_quality(image[0], reference[0], threshold)

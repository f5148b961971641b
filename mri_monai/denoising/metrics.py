"""Image-quality metrics of enhanced images against a reference, and an evaluator handler writing them to disk.

PSNR and SSIM are MONAI's :class:`~monai.metrics.PSNRMetric` and :class:`~monai.metrics.SSIMMetric` with the data
range set to the reference's maximum (as fastMRI does), computed inside the bounding box of the reference's
foreground (so that the empty background around a skull-stripped brain does not dominate). SSIM is 2D, computed on
each slice along the last spatial axis (the slices the 2D networks see) and averaged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from monai.metrics import PSNRMetric, SSIMMetric

from mri_monai.case_metrics import CaseMetricsWriter

__all__ = ["EnhancementMetricsSaver", "foreground_box", "image_quality", "level_name"]


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


class EnhancementMetricsSaver(CaseMetricsWriter):
    """Evaluator handler: PSNR/SSIM of several methods per case, written as ``metrics.csv`` and a summary.

    For each item and method it computes :func:`image_quality` of ``item[method_key][0]`` (channel 0) against
    ``item[reference_key][0]``; see :class:`~mri_monai.case_metrics.CaseMetricsWriter` for the files. The rows are
    ``case, <group_key>, method, psnr, ssim``; the summary's methods hold the means over the cases, ``psnr`` and
    ``ssim``, and per value of ``group_key`` (``psnr_<level>``, ``ssim_<level>``, named by :func:`level_name`), plus
    ``cases``, ``region`` and ``description``.

    Args:
        output_dir: folder of the two files (created).
        methods: method name -> item key of its image, e.g. ``{"noisy": "image", "nlm": "nlm", "network": "pred"}``.
        reference_key: item key of the noise-free reference.
        baseline: the method the network is compared with.
        group_key: item key of the condition a case was made under (the noise level); ``None``: no groups.
        primary_metric: ``"psnr"`` or ``"ssim"``.
        threshold: foreground threshold of the metrics' box (see :func:`foreground_box`).
        description: free text stored in the summary (e.g. "SYNTHETIC test subjects").

    Example (config)::

        {"_target_": "mri_monai.denoising.metrics.EnhancementMetricsSaver", "output_dir": "@output_dir",
         "methods": {"noisy": "image", "nlm": "nlm", "network": "pred"}, "baseline": "nlm"}
    """

    metric_names = ("psnr", "ssim")

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        reference_key: str = "label",
        baseline: str = "nlm",
        group_key: str | None = "noise_level",
        primary_metric: str = "psnr",
        threshold: float = 0.0,
        description: str = "",
    ) -> None:
        super().__init__(output_dir, methods, reference_key, baseline, primary_metric)
        self.group_key = group_key
        self.threshold = threshold
        self.description = description

    def score(self, image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
        """:func:`image_quality` of channel 0."""
        return image_quality(image[0], reference[0], self.threshold)

    def case_columns(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The case's file name and, with groups, its ``group_key`` value."""
        columns = super().case_columns(item)
        if self.group_key is not None:
            columns[self.group_key] = float(item[self.group_key])
        return columns

    def summary(self) -> dict[str, Any]:
        """Means over the collected cases, per method (and per group)."""
        summary = super().summary()
        if self.group_key is not None:
            for group in sorted({r[self.group_key] for r in self.rows}):
                for method, values in self.means([r for r in self.rows if r[self.group_key] == group]).items():
                    summary["methods"][method].update({f"{m}_{level_name(group)}": v for m, v in values.items()})
        return {
            **summary,
            "cases": len({r["case"] for r in self.rows}),
            "region": "bounding box of the reference's foreground; data range = reference maximum; "
            "SSIM 2D per slice along the last axis (Gaussian window 11, sigma 1.5), averaged",
            "description": self.description,
        }

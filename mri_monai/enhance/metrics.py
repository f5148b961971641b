"""Image-quality metrics of enhanced images against a reference, and an evaluator handler writing them to disk.

PSNR and SSIM are MONAI's :class:`~monai.metrics.PSNRMetric` and :class:`~monai.metrics.SSIMMetric` with the data
range set to the reference's maximum (as fastMRI does), computed inside the bounding box of the reference's
foreground (so that the empty background around a skull-stripped brain does not dominate). SSIM is 2D, computed on
each slice along the last spatial axis (the slices the 2D networks see) and averaged.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from monai.metrics import PSNRMetric, SSIMMetric
from monai.utils import IgniteInfo, ImageMetaKey, min_version, optional_import

from mri_monai.data.atomic import atomic_output

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

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


class EnhancementMetricsSaver:
    """Evaluator handler: PSNR/SSIM of several methods per case, written as ``metrics.csv`` and a summary.

    At every iteration it reads the evaluator's decollated batch and output items, and for each item and method computes
    :func:`image_quality` of ``item[method_key][0]`` (channel 0) against ``item[reference_key][0]``. When the epoch
    completes it writes, atomically:

    - ``<output_dir>/metrics.csv``: one row per case and method: ``case, <group_key>, method, psnr, ssim``;
    - ``<output_dir>/metrics_summary.json``: ``{"primary_metric", "higher_is_better", "baseline", "methods":
      {method: {"psnr", "ssim", "psnr_<level>", "ssim_<level>", ...}}, ...}`` with means over the cases (and per
      value of ``group_key``, named by :func:`level_name`).

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

        {"_target_": "mri_monai.enhance.metrics.EnhancementMetricsSaver", "output_dir": "@output_dir",
         "methods": {"noisy": "image", "nlm": "nlm", "network": "pred"}, "baseline": "nlm"}
    """

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
        if baseline not in methods:
            raise ValueError(f"baseline {baseline!r} is not one of the methods {sorted(methods)}")
        if primary_metric not in ("psnr", "ssim"):
            raise ValueError(f"primary_metric must be 'psnr' or 'ssim', got {primary_metric!r}")
        self.output_dir = str(output_dir)
        self.methods = dict(methods)
        self.reference_key = reference_key
        self.baseline = baseline
        self.group_key = group_key
        self.primary_metric = primary_metric
        self.threshold = threshold
        self.description = description
        self.rows: list[dict[str, Any]] = []
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Collect metrics at every iteration of ``engine`` and write the files when an epoch completes."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        self.rows = []

    def _collect(self, engine: Engine) -> None:
        batch, output = engine.state.batch, engine.state.output
        if not isinstance(output, Sequence):
            batch, output = [batch], [output]
        # after postprocessing, keys the batch brought keep their updated values in the batch, new keys are outputs
        for item in ({**b, **o} for b, o in zip(batch, output, strict=True)):
            reference = item[self.reference_key]
            case = str(getattr(reference, "meta", {}).get(ImageMetaKey.FILENAME_OR_OBJ, len(self.rows)))
            group = None if self.group_key is None else float(item[self.group_key])
            for method, key in self.methods.items():
                row: dict[str, Any] = {"case": case, "method": method}
                if self.group_key is not None:
                    row[self.group_key] = group
                row.update(image_quality(item[key][0].detach().cpu(), reference[0].detach().cpu(), self.threshold))
                self.rows.append(row)

    def summary(self) -> dict[str, Any]:
        """Means over the collected cases, per method (and per group)."""
        methods: dict[str, dict[str, float]] = {}
        for method in self.methods:
            rows = [r for r in self.rows if r["method"] == method]
            stats = {m: float(np.mean([r[m] for r in rows])) for m in ("psnr", "ssim")}
            if self.group_key is not None:
                for group in sorted({r[self.group_key] for r in rows}):
                    in_group = [r for r in rows if r[self.group_key] == group]
                    for m in ("psnr", "ssim"):
                        stats[f"{m}_{level_name(group)}"] = float(np.mean([r[m] for r in in_group]))
            methods[method] = stats
        return {
            "primary_metric": self.primary_metric,
            "higher_is_better": True,
            "baseline": self.baseline,
            "methods": methods,
            "cases": len({r["case"] for r in self.rows}),
            "region": "bounding box of the reference's foreground; data range = reference maximum; "
            "SSIM 2D per slice along the last axis (Gaussian window 11, sigma 1.5), averaged",
            "description": self.description,
        }

    def _write(self, engine: Engine) -> None:
        if not self.rows:
            raise RuntimeError("EnhancementMetricsSaver: no case was evaluated (empty test split?)")
        columns = ["case", *([self.group_key] if self.group_key else []), "method", "psnr", "ssim"]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        os.makedirs(self.output_dir, exist_ok=True)
        with atomic_output(os.path.join(self.output_dir, "metrics.csv")) as tmp:
            tmp.write_text(text.getvalue())
        summary = self.summary()
        with atomic_output(os.path.join(self.output_dir, "metrics_summary.json")) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
        for method, stats in summary["methods"].items():
            self.logger.info(f"{method}: " + ", ".join(f"{k} {v:.4f}" for k, v in stats.items()))

"""Evaluation of reconstructions against their references: baseline transform and a metrics-writing handler."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.transforms import MapTransform

from mri_monai.case_metrics import CaseMetricsWriter

from .baselines import compressed_sensing
from .metrics import volume_metrics

__all__ = ["CompressedSensingd", "ReconstructionMetricsWriter"]

METRICS = ("nmse", "psnr", "ssim")


class CompressedSensingd(MapTransform):
    """L1-wavelet compressed sensing (:func:`~.baselines.compressed_sensing`) of every slice of a k-space volume.

    Args:
        keys: scaled, undersampled complex (S, C, H, W) k-space.
        output_key: where the (S, H, W) magnitude is written, multiplied back by ``data[scale_key]``.
        mask_key, scale_key: the item's mask and per-slice scale (see :class:`~.transforms.ZeroFilledScaled`).
        lamda, max_iter: see :func:`~.baselines.compressed_sensing`.
    """

    def __init__(
        self,
        keys: str,
        output_key: str = "compressed_sensing",
        mask_key: str = "mask",
        scale_key: str = "scale",
        lamda: float = 0.003,
        max_iter: int = 30,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_key, self.mask_key, self.scale_key = output_key, mask_key, scale_key
        self.lamda, self.max_iter = lamda, max_iter

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            kspace, mask = torch.as_tensor(d[key]), torch.as_tensor(d[self.mask_key])
            mask = mask.reshape(mask.shape[-2:])
            slices = [compressed_sensing(k, mask, self.lamda, self.max_iter) for k in kspace]
            d[self.output_key] = torch.stack(slices) * torch.as_tensor(d[self.scale_key]).reshape(-1, 1, 1).cpu()
        return d


class ReconstructionMetricsWriter(CaseMetricsWriter):
    """Handler: NMSE, PSNR and SSIM (fastMRI definitions) of every method for every case; CSV and summary JSON.

    The evaluator's post-processed items hold the reference and each method's (S, H, W) reconstruction; see
    :class:`~mri_monai.case_metrics.CaseMetricsWriter` for the files. The rows are ``case, acquisition,
    acceleration, real_acceleration, method, nmse, psnr, ssim``; the summary holds the means over the cases overall
    (``methods``) and per nominal acceleration (``by_acceleration``), the number of (case, acceleration) pairs
    (``cases``), and per acquisition label (the file's ``acquisition`` attribute, e.g. ``AXT2``: contrasts differ in
    difficulty, so a mean depends on the mix) the number of files and the means per acceleration
    (``by_acquisition``).

    Args:
        output_dir: folder of the two files.
        methods: method name -> item key of its reconstruction; must include ``"network"`` and ``baseline``.
        baseline: the method the network is compared with.
        target_key, filename_key, acquisition_key, acceleration_key, real_acceleration_key: item keys.
        primary_metric: the metric the comparison is made on (NMSE: lower is better).

    Example::

        ReconstructionMetricsWriter("eval", {"network": "pred", "zero_filled": "zero_filled"}).attach(evaluator)
    """

    metric_names = METRICS

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        baseline: str = "zero_filled",
        target_key: str = "target",
        filename_key: str = "filename",
        acquisition_key: str = "acquisition",
        acceleration_key: str = "acceleration",
        real_acceleration_key: str = "real_acceleration",
        primary_metric: str = "ssim",
    ) -> None:
        super().__init__(output_dir, methods, target_key, baseline, primary_metric, primary_metric != "nmse")
        self.filename_key, self.acquisition_key = filename_key, acquisition_key
        self.acceleration_key, self.real_acceleration_key = acceleration_key, real_acceleration_key

    def score(self, image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
        """fastMRI's NMSE, PSNR and SSIM of the volume ``image`` against ``reference``."""
        return volume_metrics(reference, image)

    def case_columns(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The case's file name, acquisition label, nominal and real acceleration (NaN when the item has none)."""
        return {
            "case": str(item.get(self.filename_key)),
            "acquisition": str(item.get(self.acquisition_key, "unknown")),
            "acceleration": float(item.get(self.acceleration_key, float("nan"))),
            "real_acceleration": round(float(item.get(self.real_acceleration_key, float("nan"))), 3),
        }

    def summary(self) -> dict[str, Any]:
        """Means over cases per method: overall, per nominal acceleration and per acquisition and acceleration."""
        summary = super().summary()
        by_acquisition = {}
        for label in sorted({r["acquisition"] for r in self.rows}):
            rows = [r for r in self.rows if r["acquisition"] == label]
            by_acquisition[label] = {"files": len({r["case"] for r in rows}), **self.by_acceleration(rows)}
        return {
            **summary,
            "cases": len({(r["case"], r["acceleration"]) for r in self.rows}),
            "by_acceleration": self.by_acceleration(self.rows),
            "by_acquisition": by_acquisition,
        }

    def by_acceleration(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
        """``{"<a>x": {method: {metric: mean}}}`` over ``rows`` for each nominal acceleration ``a`` among them."""
        accelerations = sorted({r["acceleration"] for r in rows})
        return {f"{a:g}x": self.means([r for r in rows if r["acceleration"] == a]) for a in accelerations}

"""Evaluation of reconstructions against their references: baseline transform and a metrics-writing handler."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import torch
from monai.transforms import MapTransform

from mri_monai.data.atomic import atomic_output

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


class ReconstructionMetricsWriter:
    """Handler: NMSE, PSNR and SSIM (fastMRI definitions) of every method for every case; CSV and summary JSON.

    After each iteration of an evaluator whose post-processed items hold the reference and each method's
    (S, H, W) reconstruction, one row per (case, method) is kept; when the run completes, ``output_dir/metrics.csv``
    (columns ``case, acceleration, real_acceleration, method, nmse, psnr, ssim``) and
    ``output_dir/metrics_summary.json`` (means over cases, overall and per acceleration) are written atomically.

    Args:
        output_dir: folder of the two files.
        methods: method name -> item key of its reconstruction; must include ``"network"`` and ``baseline``.
        baseline: the method the network is compared with.
        target_key, filename_key, acceleration_key, real_acceleration_key: item keys.
        primary_metric: the metric named first in the summary.

    Example::

        ReconstructionMetricsWriter("eval", {"network": "pred", "zero_filled": "zero_filled"}).attach(evaluator)
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        baseline: str = "zero_filled",
        target_key: str = "target",
        filename_key: str = "filename",
        acceleration_key: str = "acceleration",
        real_acceleration_key: str = "real_acceleration",
        primary_metric: str = "ssim",
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods {sorted(methods)} must include 'network' and the baseline {baseline!r}")
        self.output_dir = Path(output_dir)
        self.methods = dict(methods)
        self.baseline = baseline
        self.target_key, self.filename_key = target_key, filename_key
        self.acceleration_key, self.real_acceleration_key = acceleration_key, real_acceleration_key
        self.primary_metric = primary_metric
        self.rows: list[dict[str, Any]] = []

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.COMPLETED, lambda _: self.write())

    def collect(self, engine: Any) -> None:
        """Metrics of every method for the cases of the last iteration."""
        for batch, output in zip(engine.state.batch, engine.state.output, strict=True):
            item = {**batch, **output}
            if self.target_key not in item:
                raise ValueError(f"{item.get(self.filename_key)}: no reference image to evaluate against")
            target = torch.as_tensor(item[self.target_key])
            case = str(item[self.filename_key])
            for method, key in self.methods.items():
                row = {"case": case, "acceleration": float(item.get(self.acceleration_key, float("nan")))}
                row["real_acceleration"] = round(float(item.get(self.real_acceleration_key, float("nan"))), 3)
                row["method"] = method
                row.update(volume_metrics(target, torch.as_tensor(item[key])))
                self.rows.append(row)

    def summary(self) -> dict[str, Any]:
        """Means over cases per method, overall and per nominal acceleration."""

        def means(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
            out = {}
            for method in self.methods:
                mine = [r for r in rows if r["method"] == method]
                out[method] = {m: round(sum(r[m] for r in mine) / len(mine), 4) for m in METRICS}
            return out

        accelerations = sorted({r["acceleration"] for r in self.rows})
        return {
            "primary_metric": self.primary_metric,
            "higher_is_better": self.primary_metric != "nmse",
            "baseline": self.baseline,
            "cases": len({(r["case"], r["acceleration"]) for r in self.rows}),
            "methods": means(self.rows),
            "by_acceleration": {
                f"{a:g}x": means([r for r in self.rows if r["acceleration"] == a]) for a in accelerations
            },
        }

    def write(self) -> None:
        """Write ``metrics.csv`` and ``metrics_summary.json`` into ``output_dir``."""
        if not self.rows:
            raise ValueError("no case was evaluated: is the test split empty?")
        with atomic_output(self.output_dir / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        with atomic_output(self.output_dir / "metrics_summary.json") as tmp:
            tmp.write_text(json.dumps(self.summary(), indent=2))

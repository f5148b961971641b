"""Evaluation runs that write ``metrics.csv`` and ``metrics_summary.json`` (bundles/README.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from mri_monai.data.atomic import write_metrics

from .metrics import translation_metrics

__all__ = ["TranslationEvaluation"]


class TranslationEvaluation:
    """Translate every test case with every method and direction; score against the true target contrast.

    Args:
        dataloader: batches of size 1 holding each contrast (keys of ``directions``), (1, 1, X, Y, Z) in [0, 1],
            and ``subject_key``.
        methods: ``{method: {direction: translate}}``; ``translate`` maps (1, 1, X, Y, Z) in [0, 1] to the
            same. The trained model must be called ``"network"``.
        directions: ``{direction: (source_key, target_key)}``, e.g. ``{"t1_to_t2": ("t1w", "t2w")}``.
        output_dir: where ``metrics.csv`` (one row per case, method and direction) and
            ``metrics_summary.json`` go.
        primary_direction: direction whose metrics appear unprefixed in the summary (``"ssim"``...); the
            metrics of every direction also appear as ``"<direction>_<metric>"``.
        primary_metric: the metric that decides whether the network beats the baseline.
        baseline: the method the network must beat.
        device: device the volumes are moved to.
        subject_key: key of the case name in the batch.
    """

    def __init__(
        self,
        dataloader: DataLoader,
        methods: Mapping[str, Mapping[str, Callable[[torch.Tensor], torch.Tensor]]],
        directions: Mapping[str, Sequence[str]],
        output_dir: str | os.PathLike,
        primary_direction: str,
        primary_metric: str = "ssim",
        baseline: str = "histogram_matching",
        device: str | torch.device = "cpu",
        subject_key: str = "subject",
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods must include 'network' and the baseline {baseline!r}; got {sorted(methods)}")
        if primary_direction not in directions:
            raise ValueError(f"primary_direction {primary_direction!r} is not one of {sorted(directions)}")
        self.dataloader, self.methods, self.directions = dataloader, methods, directions
        self.output_dir, self.primary_direction = output_dir, primary_direction
        self.primary_metric, self.baseline = primary_metric, baseline
        self.device, self.subject_key = torch.device(device), subject_key

    def run(self) -> dict[str, Any]:
        """Evaluate and write the files; returns the summary."""
        rows: list[dict[str, Any]] = []
        for batch in self.dataloader:
            subject = batch.get(self.subject_key, ["case"])[0]
            for direction, (source_key, target_key) in self.directions.items():
                source = batch[source_key].to(self.device)
                target = batch[target_key].to(self.device)
                for method, translators in self.methods.items():
                    if direction not in translators:
                        continue
                    pred = translators[direction](source)
                    scores = translation_metrics(pred.cpu(), target.cpu())
                    rows.append({"subject": subject, "method": method, "direction": direction, **scores})
        if not rows:
            raise ValueError("the evaluation dataloader is empty")
        methods: dict[str, dict[str, float]] = {}
        for method in self.methods:
            summary: dict[str, float] = {}
            for direction in self.directions:
                selected = [r for r in rows if r["method"] == method and r["direction"] == direction]
                for metric in ("mae", "psnr", "ssim", "mi"):
                    if selected:
                        value = round(float(np.mean([r[metric] for r in selected])), 4)
                        summary[f"{direction}_{metric}"] = value
                        if direction == self.primary_direction:
                            summary[metric] = value
            methods[method] = summary
        result = {
            "primary_metric": self.primary_metric,
            "higher_is_better": self.primary_metric != "mae",
            "baseline": self.baseline,
            "primary_direction": self.primary_direction,
            "cases": len({r["subject"] for r in rows}),
            "methods": methods,
        }
        return write_metrics(self.output_dir, rows, result)

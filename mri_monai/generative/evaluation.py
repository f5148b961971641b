"""The translation bundle's evaluation, written as ``metrics.csv`` and ``metrics_summary.json`` (bundles/README.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from mri_monai.case_metrics import MetricsTable
from mri_monai.metrics import translation_metrics

__all__ = ["TranslationEvaluation"]


class TranslationEvaluation:
    """Translate every test case with every method and direction; score against the true target contrast.

    Writes the files of :class:`~mri_monai.case_metrics.MetricsTable`: one row per case, direction and method
    (:func:`~mri_monai.metrics.translation_metrics`: ``mae``, ``psnr``, ``ssim``, ``mi``); the summary's
    ``methods`` hold the means over both directions and per direction (``ssim_t1_to_t2``...).

    Args:
        dataloader: batches of size 1 holding each contrast (keys of ``directions``), (1, 1, X, Y, Z) in [0, 1],
            and ``subject_key``.
        methods: ``{method: {direction: translate}}``; ``translate`` maps (1, 1, X, Y, Z) in [0, 1] to the
            same. The trained model must be called ``"network"``.
        directions: ``{direction: (source_key, target_key)}``, e.g. ``{"t1_to_t2": ("t1w", "t2w")}``.
        output_dir: where ``metrics.csv`` and ``metrics_summary.json`` go.
        primary_metric: the summary key that decides whether the network beats the baseline, e.g.
            ``"ssim_t1_to_t2"``; lower is better for an MAE.
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
        primary_metric: str,
        baseline: str = "histogram_matching",
        device: str | torch.device = "cpu",
        subject_key: str = "subject",
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods must include 'network' and the baseline {baseline!r}; got {sorted(methods)}")
        self.dataloader, self.methods, self.directions = dataloader, methods, directions
        self.output_dir, self.device, self.subject_key = output_dir, torch.device(device), subject_key
        self.table = MetricsTable(primary_metric, not primary_metric.startswith("mae"), baseline, ("direction",))

    def run(self) -> dict[str, Any]:
        """Evaluate and write the files; returns the summary."""
        self.table.clear()
        for batch in self.dataloader:
            subject = batch.get(self.subject_key, ["case"])[0]
            for direction, (source_key, target_key) in self.directions.items():
                source = batch[source_key].to(self.device)
                target = batch[target_key].to(self.device)
                for method, translators in self.methods.items():
                    if direction not in translators:
                        continue
                    scores = translation_metrics(translators[direction](source).cpu(), target.cpu())
                    self.table.add(subject, method, scores, conditions={"direction": direction})
        if not self.table.rows:
            raise ValueError("the evaluation dataloader is empty")
        return self.table.write(self.output_dir)

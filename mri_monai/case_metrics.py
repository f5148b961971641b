"""The one evaluation contract of the bundles: per-case metric rows, their summary, and the writer of both files.

Every bundle's evaluate run writes, in its ``output_dir``, through :class:`MetricsTable`:

- ``metrics.csv``, one row per case, condition and method: ``case, <condition columns>, method, <metric columns>``
  and then any descriptive columns (e.g. the real acceleration of a k-space mask);
- ``metrics_summary.json``: ``{"primary_metric", "higher_is_better", "baseline", "cases", "methods", "details"}``,
  where ``methods`` is ``{method: {metric: value}}``: for every metric column its mean over the rows (4 decimals,
  NaN ignored), then for every value ``v`` of every condition column the mean over the rows of that value as
  ``<metric>_<v>`` (``psnr_5pct``, ``ssim_4x``, ``ssim_t1_to_t2``), and with several condition columns the mean
  over each combination as ``<metric>_<v1>_<v2>`` (``ssim_AXT2_4x``); a task may add set-level values (a
  distance between sample sets is no mean over cases). ``cases`` is the number of distinct cases, ``details``
  task-specific context (free text, the run time...).

A bundle's ``eval_metrics`` (``configs/metadata.json``) is a part of ``methods``, with the same keys and values.
:class:`CaseMetricsWriter` is the Ignite handler that fills a table from an evaluator, with a task's case score
from :mod:`mri_monai.metrics`; evaluations that are not Ignite workflows fill one themselves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.utils import ImageMetaKey

from mri_monai.data.atomic import write_metrics

__all__ = ["CaseMetricsWriter", "MetricsTable", "SUMMARY_KEYS"]

#: the keys of every ``metrics_summary.json``, in order.
SUMMARY_KEYS = ("primary_metric", "higher_is_better", "baseline", "cases", "methods", "details")


class MetricsTable:
    """Per-case metric rows of several methods, and their summary: the two files of every evaluate run.

    Args:
        primary_metric: the key of ``methods[<method>]`` the network and the baseline are compared on.
        higher_is_better: whether a larger ``primary_metric`` is better.
        baseline: the method the network is compared with.
        conditions: names of the condition columns (e.g. ``("noise_level",)``), in row order.

    Example::

        table = MetricsTable("ssim_t1_to_t2", baseline="histogram_matching", conditions=("direction",))
        table.add("sub-001", "network", {"ssim": 0.86}, conditions={"direction": "t1_to_t2"})
        table.write("eval")
    """

    def __init__(
        self,
        primary_metric: str,
        higher_is_better: bool = True,
        baseline: str = "baseline",
        conditions: Sequence[str] = (),
    ) -> None:
        self.primary_metric, self.higher_is_better, self.baseline = primary_metric, higher_is_better, baseline
        self.conditions = tuple(conditions)
        self.metric_names: list[str] = []
        self.rows: list[dict[str, Any]] = []

    def clear(self) -> None:
        """Forget every row (a new run)."""
        self.rows.clear()
        self.metric_names.clear()

    def add(
        self,
        case: str,
        method: str,
        metrics: Mapping[str, float],
        conditions: Mapping[str, str] | None = None,
        columns: Mapping[str, Any] | None = None,
    ) -> None:
        """Append the row ``case, <conditions>, method, <metrics>, <columns>``.

        Args:
            case: the case's name (its file, subject or pair).
            method: the method scored.
            metrics: metric name -> value; averaged in the summary.
            conditions: a label for every condition column (e.g. ``{"noise_level": "5pct"}``).
            columns: descriptive values, written but not averaged.

        Raises:
            ValueError: ``conditions`` does not name exactly the table's condition columns.
        """
        conditions = dict(conditions or {})
        if set(conditions) != set(self.conditions):
            raise ValueError(f"case {case}: conditions {sorted(conditions)} are not {sorted(self.conditions)}")
        self.metric_names.extend(m for m in metrics if m not in self.metric_names)
        labels = {c: str(conditions[c]) for c in self.conditions}
        scores = {m: float(v) for m, v in metrics.items()}
        self.rows.append({"case": str(case), **labels, "method": method, **scores, **dict(columns or {})})

    def means(self, rows: Sequence[Mapping[str, Any]], suffix: str = "") -> dict[str, dict[str, float]]:
        """``{method: {<metric><suffix>: mean over rows}}`` for the methods in ``rows`` (4 decimals, NaN ignored)."""
        out: dict[str, dict[str, float]] = {}
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method]
            out[method] = {
                f"{m}{suffix}": round(float(np.nanmean([r.get(m, np.nan) for r in mine])), 4)
                for m in self.metric_names
                if any(m in r for r in mine)
            }
        return out

    def method_means(self) -> dict[str, dict[str, float]]:
        """The means of ``methods``: overall, per condition value and per combination of condition values."""
        methods = self.means(self.rows)
        groups = [(c,) for c in self.conditions]
        if len(self.conditions) > 1:
            groups.append(self.conditions)
        for columns in groups:
            for labels in dict.fromkeys(tuple(r[c] for c in columns) for r in self.rows):
                rows = [r for r in self.rows if tuple(r[c] for c in columns) == labels]
                for method, values in self.means(rows, "_" + "_".join(labels)).items():
                    methods[method].update(values)
        return methods

    def summary(
        self, set_metrics: Mapping[str, Mapping[str, float]] | None = None, details: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The dict written to ``metrics_summary.json`` (keys :data:`SUMMARY_KEYS`).

        Args:
            set_metrics: ``{method: {metric: value}}`` computed on a method's whole output rather than per case;
                merged into ``methods`` after the means.
            details: task-specific context.

        Raises:
            RuntimeError: no row and no set metric.
            ValueError: the network or the baseline has no ``primary_metric``.
        """
        if not self.rows and not set_metrics:
            raise RuntimeError("no case was evaluated (is the test split empty?)")
        methods = self.method_means()
        for method, values in (set_metrics or {}).items():
            methods.setdefault(method, {}).update(values)
        for method in ("network", self.baseline):
            if self.primary_metric not in methods.get(method, {}):
                raise ValueError(f"method {method!r} has no primary metric {self.primary_metric!r}")
        return {
            "primary_metric": self.primary_metric,
            "higher_is_better": self.higher_is_better,
            "baseline": self.baseline,
            "cases": len({r["case"] for r in self.rows}),
            "methods": methods,
            "details": dict(details or {}),
        }

    def write(
        self,
        output_dir: str | os.PathLike,
        set_metrics: Mapping[str, Mapping[str, float]] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``<output_dir>/metrics.csv`` and ``metrics_summary.json`` atomically; returns the summary."""
        return write_metrics(output_dir, self.rows, self.summary(set_metrics, details))


def _label(value: Any, label: str | Callable[[Any], str]) -> str:
    """``value`` (a number, a string or a one-element tensor) as a condition label: a format template or a function."""
    value = value.item() if isinstance(value, (torch.Tensor, np.ndarray, np.generic)) else value
    return label.format(value) if isinstance(label, str) else label(value)


class CaseMetricsWriter:
    """Evaluator handler: every method scored on every case against the reference; writes a :class:`MetricsTable`.

    At each iteration it merges each decollated batch item with its output item (MONAI keeps keys that
    postprocessing changed in the batch, new keys in the output), reads the reference and each method's image and
    adds one row per method with ``score(image, reference)``; a method whose key is missing or ``None`` (a
    comparison model without weights) is left out. When the run completes it writes the two files of the module
    docstring and puts the summary's ``methods`` in ``engine.state.metrics`` as ``<method>_<metric>``.

    Args:
        output_dir: folder of the two files (created).
        methods: method name -> item key of its image, e.g. ``{"network": "pred", "cubic": "image"}``; must name
            ``"network"`` and the baseline.
        score: ``score(image, reference) -> {metric: value}`` on the items' CPU tensors, channel first, e.g.
            :func:`mri_monai.metrics.denoising_scores`.
        primary_metric: the summary key the network and the baseline are compared on.
        reference_key: item key of the reference.
        baseline: the method the network is compared with; must be one of ``methods``.
        higher_is_better: whether a larger ``primary_metric`` is better.
        conditions: item key -> its label, a format template (``"{:g}x"``) or a function
            (:func:`mri_monai.denoising.noise.level_name`); each key is a condition column.
        columns: item keys written as descriptive columns (numbers, 4 decimals).
        case_key: item key of the case's name; ``None``: the reference's file name.
        details: the summary's ``details``.

    Example (config)::

        {"_target_": "mri_monai.case_metrics.CaseMetricsWriter", "output_dir": "@output_dir",
         "methods": {"network": "pred", "noisy": "image"}, "baseline": "noisy", "primary_metric": "psnr",
         "score": {"_target_": "mri_monai.metrics.denoising_scores", "_mode_": "callable"}}
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        score: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]],
        primary_metric: str,
        reference_key: str = "label",
        baseline: str = "baseline",
        higher_is_better: bool = True,
        conditions: Mapping[str, str | Callable[[Any], str]] | None = None,
        columns: Sequence[str] = (),
        case_key: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods {sorted(methods)} must name 'network' and the baseline {baseline!r}")
        self.output_dir, self.methods, self.score = output_dir, dict(methods), score
        self.reference_key, self.case_key, self.columns = reference_key, case_key, tuple(columns)
        self.conditions = dict(conditions or {})
        self.details = dict(details or {})
        self.table = MetricsTable(primary_metric, higher_is_better, baseline, tuple(self.conditions))
        self.logger = logging.getLogger(type(self).__module__)

    def attach(self, engine: Engine) -> None:
        """Register the per-iteration and the completion callbacks on ``engine``."""
        engine.add_event_handler(Events.STARTED, lambda _: self.table.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def case_name(self, item: Mapping[str, Any]) -> str:
        """``item[case_key]``, or the reference's file name (the row number when it has none)."""
        if self.case_key is not None:
            return str(item[self.case_key])
        meta = getattr(item.get(self.reference_key), "meta", {})
        return str(meta.get(ImageMetaKey.FILENAME_OR_OBJ, len(self.table.rows)))

    def iteration_completed(self, engine: Engine) -> None:
        """Score every method on every case of the batch."""
        batch, output = engine.state.batch, engine.state.output
        if not isinstance(output, Sequence):
            batch, output = [batch], [output]
        for item in ({**b, **o} for b, o in zip(batch, output, strict=True)):
            case = self.case_name(item)
            if item.get(self.reference_key) is None:
                raise ValueError(f"case {case}: no reference {self.reference_key!r} to evaluate against")
            reference = torch.as_tensor(item[self.reference_key]).detach().cpu()
            conditions = {key: _label(item[key], label) for key, label in self.conditions.items()}
            columns = {key: round(float(item[key]), 4) for key in self.columns}
            for method, key in self.methods.items():
                if item.get(key) is None:
                    continue
                scores = self.score(torch.as_tensor(item[key]).detach().cpu(), reference)
                self.table.add(case, method, scores, conditions, columns)

    def completed(self, engine: Engine) -> None:
        """Write ``metrics.csv`` and ``metrics_summary.json``; log and publish the methods' means."""
        summary = self.table.write(self.output_dir, details=self.details)
        for method, values in summary["methods"].items():
            self.logger.info(f"{method}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
            for metric, value in values.items():
                engine.state.metrics[f"{method}_{metric}"] = value

"""The evaluation handler every bundle's ``evaluate.json`` uses: per-case metrics of several methods, written to disk.

Each task subclasses :class:`CaseMetricsWriter` with its metrics (:meth:`~CaseMetricsWriter.score`) and, when cases
come in groups (noise levels, accelerations), the group columns and summary; the event wiring, the method
bookkeeping, the means and the atomic ``metrics.csv`` / ``metrics_summary.json`` are shared.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.utils import ImageMetaKey

from mri_monai.data.atomic import write_metrics

__all__ = ["CaseMetricsWriter"]


class CaseMetricsWriter:
    """Evaluator handler: the metrics of every method for every case, as ``metrics.csv`` and a summary JSON.

    At each iteration it merges each decollated batch item with its output item (MONAI keeps keys that
    postprocessing changed in the batch, new keys in the output), reads the reference and each method's image and
    appends one row ``{"case", <group columns>, "method", <metrics>}`` per method; a method whose key is missing or
    ``None`` (a comparison model without weights) is left out. When the run completes it writes
    ``<output_dir>/metrics.csv`` and ``<output_dir>/metrics_summary.json`` (``{"primary_metric",
    "higher_is_better", "baseline", "methods": {method: {metric: mean over the cases}}, ...}``), atomically, and puts
    the methods' means in ``engine.state.metrics`` as ``<method>_<metric>``.

    Subclasses set :attr:`metric_names` and implement :meth:`score`; they may extend :meth:`case_columns` and
    :meth:`summary`.

    Args:
        output_dir: folder of the two files (created).
        methods: method name -> item key of its image, e.g. ``{"network": "pred", "cubic": "image"}``; must name
            ``"network"`` and the baseline.
        reference_key: item key of the reference.
        baseline: the method the network is compared with; must be one of ``methods``.
        primary_metric: the metric the comparison is made on; one of :attr:`metric_names`.
        higher_is_better: whether a larger ``primary_metric`` is better.
    """

    #: names of the metrics :meth:`score` returns, in column order.
    metric_names: tuple[str, ...] = ()

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        reference_key: str = "label",
        baseline: str = "baseline",
        primary_metric: str | None = None,
        higher_is_better: bool = True,
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods {sorted(methods)} must name 'network' and the baseline {baseline!r}")
        primary_metric = primary_metric or self.metric_names[0]
        if primary_metric not in self.metric_names:
            raise ValueError(f"primary_metric must be one of {self.metric_names}, got {primary_metric!r}")
        self.output_dir = Path(output_dir)
        self.methods = dict(methods)
        self.reference_key = reference_key
        self.baseline = baseline
        self.primary_metric = primary_metric
        self.higher_is_better = higher_is_better
        self.rows: list[dict[str, Any]] = []
        self.logger = logging.getLogger(type(self).__module__)

    def attach(self, engine: Engine) -> None:
        """Register the per-iteration and the completion callbacks on ``engine``."""
        engine.add_event_handler(Events.STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def score(self, image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
        """The metrics of one method's ``image`` against ``reference`` (CPU tensors as the items hold them)."""
        raise NotImplementedError

    def case_columns(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The columns naming the case of ``item`` (before ``method``): its reference's file name."""
        meta = getattr(item.get(self.reference_key), "meta", {})
        return {"case": str(meta.get(ImageMetaKey.FILENAME_OR_OBJ, len(self.rows)))}

    def iteration_completed(self, engine: Engine) -> None:
        """Score every method on every case of the batch."""
        batch, output = engine.state.batch, engine.state.output
        if not isinstance(output, Sequence):
            batch, output = [batch], [output]
        for item in ({**b, **o} for b, o in zip(batch, output, strict=True)):
            if item.get(self.reference_key) is None:
                case = self.case_columns(item)["case"]
                raise ValueError(f"case {case}: no reference {self.reference_key!r} to evaluate against")
            reference = torch.as_tensor(item[self.reference_key]).detach().cpu()
            columns = self.case_columns(item)
            for method, key in self.methods.items():
                if item.get(key) is None:
                    continue
                scores = self.score(torch.as_tensor(item[key]).detach().cpu(), reference)
                self.rows.append({**columns, "method": method, **{m: float(scores[m]) for m in self.metric_names}})

    def means(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
        """``{method: {metric: mean over rows}}`` for the methods present in ``rows`` (NaN rows ignored)."""
        out = {}
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method]
            out[method] = {m: round(float(np.nanmean([r[m] for r in mine])), 4) for m in self.metric_names}
        return out

    def summary(self) -> dict[str, Any]:
        """The dict written to ``metrics_summary.json``.

        Raises:
            RuntimeError: no case was evaluated.
        """
        if not self.rows:
            raise RuntimeError(f"{type(self).__name__}: no case was evaluated (is the test split empty?)")
        return {
            "primary_metric": self.primary_metric,
            "higher_is_better": self.higher_is_better,
            "baseline": self.baseline,
            "methods": self.means(self.rows),
        }

    def completed(self, engine: Engine) -> None:
        """Write ``metrics.csv`` and ``metrics_summary.json``; log and publish the methods' means."""
        summary = write_metrics(self.output_dir, self.rows, self.summary())
        for method, values in summary["methods"].items():
            self.logger.info(f"{method}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
            for metric, value in values.items():
                engine.state.metrics[f"{method}_{metric}"] = value

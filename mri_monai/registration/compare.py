"""Run registration methods on the same pairs and tabulate the metrics: rows, means, CSV and markdown."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence

import numpy as np

from mri_monai.data import TISSUE_LABELS, atomic_output
from mri_monai.metrics import registration_metrics

from .methods import MethodResult
from .pair import RegistrationPair

__all__ = ["TISSUES", "compare_pair", "summarise", "markdown_table", "write_csv", "write_text"]

#: tissue label values scored by default (background excluded).
TISSUES = {name: value for name, value in TISSUE_LABELS.items() if value > 0}

_HEADERS = {
    "method": "method",
    "dice_mean": "Dice mean",
    "folding_percent": "% |J|<=0",
    "std_log_jacobian": "SD log|J|",
    "hd95_mean": "HD95 mean (mm)",
    "seconds": "time (s)",
}


def compare_pair(
    pair: RegistrationPair, methods: Sequence, labels: dict[str, int] = TISSUES
) -> tuple[list[dict], dict[str, MethodResult]]:
    """Run every method on ``pair`` and score it.

    Args:
        pair: the loaded pair.
        methods: callables with a ``name`` (see :mod:`mri_monai.registration.methods`).
        labels: name -> label value to score (when the pair has label maps).

    Returns:
        one row per method (``method``, ``seconds`` and the :func:`~mri_monai.metrics.registration_metrics` keys),
        and the results by method name.
    """
    rows, results = [], {}
    for method in methods:
        result = method(pair)
        metrics = registration_metrics(result.warped_labels, pair.fixed_labels, result.ddf, labels, pair.spacing)
        rows.append({"method": method.name, "seconds": result.seconds, **metrics})
        results[method.name] = result
    return rows, results


def summarise(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Mean of every numeric column per method (NaN ignored), methods in first-seen order."""
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    summary = {}
    for method, group in by_method.items():
        keys = [k for k, v in group[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        summary[method] = {k: float(np.nanmean([r[k] for r in group])) for k in keys}
    return summary


def _cell(value: float, key: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if key == "seconds":
        return f"{value:.1f}"
    if key == "folding_percent":
        return f"{value:.3f}"
    return f"{value:.3f}" if key.startswith(("dice", "std")) else f"{value:.2f}"


def markdown_table(summary: dict[str, dict[str, float]], labels: Sequence[str] = tuple(TISSUES)) -> str:
    """A markdown table, one row per method: Dice per label and mean, HD95 mean, folding, SD log|J|, time.

    Args:
        summary: method -> metric -> value (one pair's rows through :func:`summarise`, or means over pairs).
        labels: label names whose Dice columns are shown (those present in ``summary``).
    """
    first = next(iter(summary.values()))
    keys = [f"dice_{n}" for n in labels if f"dice_{n}" in first]
    keys += [k for k in ("dice_mean", "hd95_mean", "folding_percent", "std_log_jacobian", "seconds") if k in first]
    headers = ["method"] + [_HEADERS.get(k, f"Dice {k[5:].upper()}") for k in keys]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for method, values in summary.items():
        lines.append("| " + " | ".join([method] + [_cell(values[k], k) for k in keys]) + " |")
    return "\n".join(lines) + "\n"


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` atomically (complete or absent)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_csv(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """Write rows (dicts with the same keys) as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(buffer.getvalue(), path)

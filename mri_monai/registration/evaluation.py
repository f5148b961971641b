"""The bundle's evaluation: every method on every held-out pair, written as ``metrics.csv``, ``metrics_summary.json``,
``metrics_table.md`` and ``comparison.png`` (first pair) in the output folder."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from mri_monai.case_metrics import MetricsTable

from .compare import compare_pair, markdown_table, summarise, write_text
from .methods import METHODS, make_methods
from .network import LowResVoxelMorph
from .pair import load_pair
from .report import comparison_figure

__all__ = ["RegistrationEvaluation"]


class RegistrationEvaluation:
    """Compare the network with Elastix (and no registration) on registration pairs; write the metrics files.

    ``metrics.csv`` and ``metrics_summary.json`` are those of :class:`~mri_monai.case_metrics.MetricsTable` (a case is
    a pair, ``<moving>-><fixed>``; the primary metric is ``dice_mean``, ``seconds`` the time per pair, ``details``
    the total time); ``metrics_table.md`` shows the means over the pairs as a markdown table.

    Args:
        pairs: dicts with ``moving_image``, ``fixed_image``, ``moving_label``, ``fixed_label`` paths (and
            ``moving_subject``/``fixed_subject``), e.g. from :func:`~mri_monai.registration.data.registration_pairs`.
        network: the trained network (weights loaded).
        output_dir: where the files go.
        methods: method names (see :data:`~mri_monai.registration.methods.METHODS`).
        baseline: the method the network is compared against in the summary.
        threads: ITK and torch threads of every method.
        device: where the network runs.
        instance_optimization: keyword arguments of
            :class:`~mri_monai.registration.instance_optimization.InstanceOptimization` for ``network_io``.
        figure: write ``comparison.png`` for the first pair.
        data_description: where the pairs come from, for the figure title and the table heading (e.g. the
            datalist's description, :func:`~mri_monai.data.provenance.data_description`); ``""``: not said.
    """

    def __init__(
        self,
        pairs: Sequence[dict],
        network: LowResVoxelMorph,
        output_dir: str | os.PathLike,
        methods: Sequence[str] = METHODS,
        baseline: str = "none",
        threads: int | None = 1,
        device: str | torch.device = "cpu",
        instance_optimization: dict | None = None,
        figure: bool = True,
        data_description: str = "",
    ) -> None:
        if not pairs:
            raise ValueError("no registration pairs to evaluate")
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods {list(methods)} must include 'network' and the baseline {baseline!r}")
        self.pairs = list(pairs)
        self.output_dir = Path(output_dir)
        self.baseline = baseline
        self.figure = figure
        self.data_description = data_description
        self.methods = make_methods(
            tuple(methods),
            network=network,
            threads=threads,
            device=device,
            **(instance_optimization or {}),
        )

    def _title(self, name: str) -> str:
        return f"{name} ({self.data_description})" if self.data_description else name

    def run(self) -> dict:
        """Evaluate every pair; write the files; return the summary."""
        for method in self.methods:
            method.warm_up()
        table = MetricsTable("dice_mean", baseline=self.baseline)
        rows = []
        started = time.perf_counter()
        for k, entry in enumerate(self.pairs):
            pair = load_pair(entry["fixed_image"], entry["moving_image"], entry["fixed_label"], entry["moving_label"])
            pair_rows, results = compare_pair(pair, self.methods)
            name = f"{entry.get('moving_subject', 'moving')}->{entry.get('fixed_subject', 'fixed')}"
            for row in pair_rows:
                table.add(name, row["method"], {key: value for key, value in row.items() if key != "method"})
            rows += pair_rows
            print(f"pair {k + 1}/{len(self.pairs)} {name}:\n{markdown_table(summarise(pair_rows))}", flush=True)
            if self.figure and k == 0:
                comparison_figure(pair, results, self.output_dir / "comparison.png", title=self._title(name))
        report = table.write(self.output_dir, details={"seconds": time.perf_counter() - started})
        table_text = markdown_table(summarise(rows))
        heading = f"Means over {len(self.pairs)} pair(s){self._title('')}.\n\n"
        write_text(heading + table_text, self.output_dir / "metrics_table.md")
        print(table_text, flush=True)
        return report

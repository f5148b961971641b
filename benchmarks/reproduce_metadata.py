"""Recompute a bundle's ``eval_metrics`` (``configs/metadata.json``) from its shipped weights and compare.

Runs the bundle's evaluate workflow (``train.json`` + ``evaluate.json`` with the shipped ``models/model.pt``, as its
README does) on the data its README names: the ``mri-monai make-data`` command whose ``--out`` is the bundle's default
``dataset_dir`` (e.g. ``make-data synthesis --out demo_data/synthesis --subjects 12 --seed 0``). The data are made in
``--data`` (default: that ``--out`` in the repository) when missing; data already there must have been made by that
command (task, subjects, seed, no randomisation, and the segmentation lesion options ``--lesions``,
``--tumour-free``, ``--no-enhancement`` when the README sets them).
Prints a markdown table of every number of ``eval_metrics``: metadata, recomputed, difference, and whether they agree
(``math.isclose`` with ``--rel_tol``, default 0.1 %, and ``--abs_tol``, default 1e-4: the writers round to 4
decimals); timings (metrics named ``seconds``) are shown but not compared. Exit status 1 when a number differs. All
data are SYNTHETIC.

Usage::

    python benchmarks/reproduce_metadata.py brain_mri_t1_slice_synthesis [--data DIR] [--output_dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mri_monai.bundle_run import evaluation_summary
from mri_monai.data.tasks import make_task_data

ROOT = Path(__file__).resolve().parents[1]
#: relative and absolute differences allowed between a metadata number and its recomputation (``math.isclose``);
#: the writers round to 4 decimals, so the absolute one is one unit of the last decimal
REL_TOL, ABS_TOL = 1e-3, 1e-4
#: the ``make-data segmentation`` options a README command may set (``make_task_data`` keywords)
LESION_OPTIONS = ("lesions", "tumour_free", "no_enhancement")


def readme_data(bundle: Path) -> dict[str, Any]:
    """The ``make-data`` command of the bundle's README that writes its default ``dataset_dir``.

    Returns:
        ``{"task", "out", "subjects", "seed", "options"}`` (``out`` as the README writes it, relative to the run
        folder; ``options`` the lesion options the command sets, as ``make_task_data`` keywords).

    Raises:
        ValueError: the README names no such command, or several that disagree.
    """
    config = json.loads((bundle / "configs" / "train.json").read_text())
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("task")
    parser.add_argument("--out")
    parser.add_argument("--subjects", type=int, default=10)  # make-data's defaults
    parser.add_argument("--seed", type=int, default=0)
    for name in LESION_OPTIONS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=str if name == "lesions" else float)
    commands = re.findall(r"mri-monai make-data ([^`#\n]+)", (bundle / "docs" / "README.md").read_text())
    named = {c.strip() for c in commands if parser.parse_known_args(shlex.split(c))[0].out == config["dataset_dir"]}
    if len(named) != 1:
        raise ValueError(
            f"{bundle.name}: docs/README.md names {len(named)} different `mri-monai make-data ... --out "
            f"{config['dataset_dir']}` commands (the default dataset_dir); it must name one"
        )
    spec, options = parser.parse_known_args(shlex.split(named.pop()))
    if options:
        raise ValueError(
            f"{bundle.name}: the README's make-data command has options this script does not pass: {options}"
        )
    spec = vars(spec)
    spec["options"] = {name: spec.pop(name) for name in LESION_OPTIONS if spec[name] is not None}
    return spec


def ensure_data(data: Path, spec: Mapping[str, Any]) -> Path:
    """``data``, made by ``spec``'s ``make-data`` command when it has no ``datalist.json``.

    Raises:
        ValueError: ``data`` holds a datalist that this command did not write (another task, subject count, seed,
            lesion options, or domain randomisation).
    """
    options = dict(spec.get("options", {}))
    datalist = data / "datalist.json"
    if not datalist.is_file():
        make_task_data(spec["task"], data, subjects=spec["subjects"], seed=spec["seed"], **options)
    made = json.loads(datalist.read_text())
    subjects = sum(len(made[split]) for split in ("training", "validation", "test"))
    made_options = {name: made.get("options", {}).get(name) for name in LESION_OPTIONS}
    found = (made["task"], subjects, made["seed"], made["randomisation"], made_options)
    wanted = (spec["task"], spec["subjects"], spec["seed"], None, {name: options.get(name) for name in LESION_OPTIONS})
    if found != wanted:
        flags = "".join(f" --{name.replace('_', '-')} {value}" for name, value in options.items())
        raise ValueError(
            f"{data} holds (task, subjects, seed, randomisation, lesion options) {found}, not the README's "
            f"`mri-monai make-data {spec['task']} --subjects {spec['subjects']} --seed {spec['seed']}{flags}`"
        )
    return data


def locate(summary: Mapping[str, Any], method: str, metric: str) -> float:
    """The number of an evaluate run's ``metrics_summary.json`` that ``eval_metrics[method][metric]`` holds.

    ``eval_metrics`` has the shape of the summary's ``methods`` (:mod:`mri_monai.case_metrics`): it is
    ``summary["methods"][method][metric]``.

    Raises:
        KeyError: the summary has no such number.
    """
    values = summary["methods"].get(method, {})
    if metric not in values:
        raise KeyError(f"eval_metrics {method}.{metric} has no counterpart in the evaluate summary")
    return values[metric]


def compare(
    eval_metrics: Mapping[str, Any], summary: Mapping[str, Any], rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL
) -> list[dict[str, Any]]:
    """One row per number of ``eval_metrics`` (``{method: {metric: value}}``): ``{"name", "metadata", "recomputed",
    "difference", "status"}``.

    ``status`` is ``"ok"`` (``math.isclose(recomputed, metadata, rel_tol=rel_tol, abs_tol=abs_tol)``), ``"DIFFERS"``
    or ``"timing"`` (a name holding ``seconds``: not compared). ``difference`` is recomputed - metadata.
    """
    rows = []
    for method, values in eval_metrics.items():
        for metric, expected in values.items():
            value = locate(summary, method, metric)
            difference = value - expected
            if "seconds" in metric:
                status = "timing"
            else:
                status = "ok" if math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol) else "DIFFERS"
            rows.append({"name": f"{method}.{metric}", "metadata": expected, "recomputed": value,
                         "difference": difference, "status": status})  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`compare` as a markdown table."""
    lines = ["| eval_metrics | metadata | recomputed | difference | status |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['name']} | {r['metadata']} | {r['recomputed']} | {r['difference']:+.4g} | {r['status']} |" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="bundle folder, or its name in bundles/")
    parser.add_argument("--data", help="the README's data folder; default demo_data/<task> of the repository")
    parser.add_argument("--rel_tol", type=float, default=REL_TOL, help="relative difference accepted")
    parser.add_argument("--abs_tol", type=float, default=ABS_TOL, help="absolute difference accepted")
    parser.add_argument("--output_dir", help="keep the evaluate run's files here (default: a temporary folder)")
    args = parser.parse_args(argv)
    bundle = Path(args.bundle) if Path(args.bundle).is_dir() else ROOT / "bundles" / args.bundle
    spec = readme_data(bundle)
    data = ensure_data(Path(args.data) if args.data else ROOT / spec["out"], spec)
    summary = evaluation_summary(bundle, data, args.output_dir)
    eval_metrics = json.loads((bundle / "configs" / "metadata.json").read_text())["eval_metrics"]
    rows = compare(eval_metrics, summary, args.rel_tol, args.abs_tol)
    print(f"{bundle.name}: eval_metrics against its evaluate run on {data} (SYNTHETIC data)")
    print(f"ok: math.isclose with rel_tol {args.rel_tol}, abs_tol {args.abs_tol}\n")
    print(markdown(rows))
    return 1 if any(r["status"] == "DIFFERS" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

"""The main job: demo data for every task, each bundle's inference and evaluation run on it, and an HTML report.

Bundles are those of the installed project (``bundles/`` next to the ``mri_monai`` package of a clone installed with
``pip install -e``), else ``bundles/`` of the working directory, or a folder given; none found is an error. The report
shows, per bundle, the figures its runs
wrote and its metrics table, or the error of a run that failed; then one subject of each task's demo data.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from tqdm import tqdm

from .bundle_run import WORKFLOWS, BundleRun, run_bundle
from .data.acquisition import slices_to_volume
from .data.atomic import atomic_output
from .data.fastmri_h5 import read_fastmri_h5
from .data.provenance import data_description, synthetic_origin
from .data.tasks import TASKS, make_task_data
from .errors import InputError
from .figures import display_slice, grey_window, panel_figure, save_figure, to_grey

__all__ = ["PROJECT_BUNDLES", "demo_data_tasks", "ensure_demo_data", "find_bundles", "run_demo"]

#: the bundles of the installed project: ``bundles/`` beside the package in a clone (editable install)
PROJECT_BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def find_bundles(bundles_dir: Path | None = None) -> list[Path]:
    """The bundle folders (those holding ``configs/metadata.json``) the demo runs, sorted by name.

    Args:
        bundles_dir: the folder to look in; ``None``: :data:`PROJECT_BUNDLES`, else ``bundles/`` of the working
            directory.

    Raises:
        InputError: no bundle found, naming the folder(s) looked in.
    """
    folders = [bundles_dir] if bundles_dir is not None else list(dict.fromkeys([PROJECT_BUNDLES, Path("bundles")]))
    for folder in folders:
        bundles = sorted(p.parents[1] for p in Path(folder).glob("*/configs/metadata.json"))
        if bundles:
            return bundles
    looked = " or ".join(str(Path(f).absolute()) for f in folders)
    raise InputError(looked, "no bundle found (no */configs/metadata.json); pass --bundles DIR, the bundles/ folder "
                     "of a clone of mri-monai")  # fmt: skip


def demo_data_tasks(bundles: Iterable[Path]) -> dict[str, dict]:
    """The ``make-data`` tasks the bundles' data come from, with their options: task -> options.

    Read from each bundle's metadata block ``mri_monai``: ``data_task`` and ``data_options`` (the options a bundle
    trained on other than ``make-data``'s defaults needs, e.g. ``{"lesions": "realistic"}``; none by default).
    """
    tasks: dict[str, dict] = {}
    for bundle in bundles:
        block = _bundle_block(bundle)
        tasks.setdefault(block["data_task"], {}).update(block.get("data_options", {}))
    return dict(sorted(tasks.items()))


def ensure_demo_data(
    data_dir: Path, subjects: int, tasks: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict]:
    """Make the demo data of each of ``tasks`` under ``data_dir/<task>`` unless its datalist exists.

    Args:
        data_dir: parent folder of the task folders.
        subjects: subjects per task.
        tasks: task -> ``make-data`` options (``make_task_data`` keywords, e.g. :func:`demo_data_tasks`); None: every
            task of :data:`~mri_monai.data.tasks.TASKS` with the defaults.

    Returns:
        task -> {"datalist": path, "seconds": time spent making it (0 when it existed), "megabytes": size}.
    """
    made = {}
    for task, options in (tasks if tasks is not None else dict.fromkeys(TASKS, {})).items():
        folder = data_dir / task
        datalist = folder / "datalist.json"
        started = time.time()
        if not datalist.is_file():
            make_task_data(task, folder, subjects=subjects, seed=2026, overwrite=True, **options)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        made[task] = {"datalist": datalist, "seconds": time.time() - started, "megabytes": size}
    return made


def _first_images(datalist: Path) -> dict[str, np.ndarray]:
    """Axial slices of the first test subject's images, by key, as :func:`~mri_monai.figures.display_slice` draws them.

    The slice is the one with the largest labelled area when the entry has a ``label``, else the middle one.
    """
    entry = json.loads(datalist.read_text())["test"][0]
    root = datalist.parent
    volumes: dict[str, np.ndarray] = {}
    for key, value in entry.items():
        for k, path in enumerate(value if isinstance(value, list) else [value]):
            if not isinstance(path, str) or not (root / path).is_file():
                continue
            name = f"{key}[{k}]" if isinstance(value, list) else key
            if path.endswith(".h5"):
                recon = read_fastmri_h5(root / path).reconstruction
                if recon is not None:
                    volumes[name] = slices_to_volume(recon)
            else:
                arr = np.asarray(nib.load(root / path).dataobj, dtype=np.float32)
                volumes[name] = arr[..., 0] if arr.ndim == 4 else arr
    label = volumes.get("label")
    z = int(np.argmax((label > 0).sum(axis=(0, 1)))) if label is not None and label.any() else None
    return {name: display_slice(volume, 2, z) for name, volume in volumes.items()}


def _figure(task: str, datalist: Path, out: Path) -> Path:
    """``<out>/<task>_data.png``: the first test subject's images (:func:`_first_images`), each in its own window."""
    pictures = [(name, to_grey(picture, grey_window(picture))) for name, picture in _first_images(datalist).items()]
    origin = "synthetic" if synthetic_origin(datalist) else datalist.parent
    return save_figure(panel_figure(pictures, f"{task} ({origin})"), out / f"{task}_data.png", dpi=90)


def _bundle_block(bundle: Path) -> dict:
    """The bundle's metadata block ``mri_monai``."""
    return json.loads((bundle / "configs" / "metadata.json").read_text())["mri_monai"]


def _figures(run: BundleRun, limit: int = 2) -> list[Path]:
    """The first ``limit`` PNG files a run wrote (sorted by path)."""
    return sorted(run.output_dir.rglob("*.png"))[:limit] if run.output_dir.is_dir() else []


def _metrics_html(summary: dict) -> str:
    """An HTML table of ``metrics_summary.json``'s methods (rows) and metrics (columns)."""
    methods = summary.get("methods", {})
    flat = {name: _flatten(values) for name, values in methods.items()}
    columns = sorted({key for values in flat.values() for key in values})
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for name, values in flat.items():
        cells = "".join(f"<td>{_number(values.get(c))}</td>" for c in columns)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    note = f"primary metric {summary.get('primary_metric')}, baseline {summary.get('baseline')}"
    table = f"<table border=1 cellpadding=3><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"
    return f"{table}<p>{html.escape(note)}</p>"


def _flatten(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else html.escape("" if value is None else str(value))


def _primary(summary: dict | None) -> str:
    """'network X vs baseline Y' for the summary's primary metric."""
    if not summary:
        return ""
    metric, methods = summary.get("primary_metric"), summary.get("methods", {})
    network = _flatten(methods.get("network", {})).get(metric)
    baseline = _flatten(methods.get(summary.get("baseline"), {})).get(metric)
    if network is None or baseline is None:
        return ""
    return f"{metric}: network {network:.4g} vs {summary['baseline']} {baseline:.4g}"


def _bundle_section(bundle: Path, runs: list[BundleRun], out: Path) -> str:
    parts = [f"<h2>{html.escape(bundle.name)}</h2>"]
    for run in runs:
        status = "passed" if run.ok else "FAILED"
        parts.append(f"<h3>{run.workflow}: {status} in {run.seconds:.0f} s</h3>")
        if not run.ok:
            parts.append(f"<pre>{html.escape(run.error())}</pre>")
            continue
        for figure in _figures(run):
            parts.append(f"<img src='{figure.relative_to(out)}' style='max-width:100%'>")
        summary = run.summary()
        if summary:
            parts.append(_metrics_html(summary))
    return "\n".join(parts)


def run_demo(out: Path, data_dir: Path, subjects: int = 6, bundles_dir: Path | None = None) -> int:
    """Make the demo data, run every bundle's inference and evaluation on it and write ``out/report.html``.

    The demo data (``subjects`` per task, seed 2026: not the subjects the shipped weights were trained on) are made
    in ``data_dir/<task>`` for the tasks of the bundles found, unless they exist. Each bundle found by
    :func:`find_bundles` in ``bundles_dir`` runs
    ``inference.json`` and ``evaluate.json`` on its task's demo data, in its own process (``python -m monai.bundle
    run``); a bundle that fails is reported with its error and the others still run.

    Returns:
        0 when every run passed, 1 otherwise.

    Raises:
        InputError: no bundle found (nothing is made or written then).
    """
    bundles = find_bundles(bundles_dir)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    made = ensure_demo_data(data_dir, subjects, demo_data_tasks(bundles))
    runs: dict[Path, list[BundleRun]] = {}
    progress = tqdm([(b, w) for b in bundles for w in WORKFLOWS], desc="demo", unit="run")
    for bundle, workflow in progress:
        progress.set_postfix_str(f"{bundle.name} {workflow}")
        data = made[_bundle_block(bundle)["data_task"]]["datalist"].parent
        runs.setdefault(bundle, []).append(run_bundle(bundle, workflow, data, out / bundle.name / workflow))
    parts = ["<html><head><meta charset='utf-8'><title>mri-monai demo</title></head><body>", "<h1>mri-monai demo</h1>"]
    synthetic = all(synthetic_origin(info["datalist"]) for info in made.values())
    note = "All data are SYNTHETIC subjects derived from the MNI152 2009a template; research use only."
    parts.append(f"<p>{note if synthetic else 'Research use only.'}</p>")
    parts += [_bundle_section(bundle, bundle_runs, out) for bundle, bundle_runs in runs.items()]
    parts.append("<h2>Demo data</h2>")
    for task, info in made.items():
        figure = _figure(task, info["datalist"], out)
        description = data_description(info["datalist"], info["datalist"].parent)
        parts.append(f"<h3>{task}</h3><p>{html.escape(description)}; {info['megabytes']:.1f} MB</p>")
        parts.append(f"<img src='{figure.name}'>")
    parts.append("</body></html>")
    with atomic_output(out / "report.html") as tmp:
        tmp.write_text("\n".join(parts))
    print(f"{'bundle':<36} {'workflow':<10} {'status':<7} {'s':>6}  result")
    for bundle, bundle_runs in runs.items():
        for run in bundle_runs:
            status, result = ("ok", _primary(run.summary())) if run.ok else ("FAILED", run.error(1))
            print(f"{bundle.name:<36} {run.workflow:<10} {status:<7} {run.seconds:>6.0f}  {result}")
    failed = sum(not run.ok for bundle_runs in runs.values() for run in bundle_runs)
    print(f"{len(bundles)} bundles, {failed} failed run(s); report: {out / 'report.html'}")
    return 1 if failed else 0

"""The main job: demo data for every task, each bundle run on it, and an HTML report.

Bundles are found in ``bundles/`` of the working directory. While none exist yet, the demo makes the
data, draws one subject of each task and reports what it made.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from .data.acquisition import slices_to_volume, volume_to_slices
from .data.fastmri_h5 import read_fastmri_h5
from .data.tasks import TASKS, make_task_data

__all__ = ["run_demo", "ensure_demo_data"]


def ensure_demo_data(data_dir: Path, subjects: int) -> dict[str, dict]:
    """Make the demo data of every task under ``data_dir/<task>`` unless its datalist exists.

    Returns:
        task -> {"datalist": path, "seconds": time spent making it (0 when it existed), "megabytes": size}.
    """
    made = {}
    for task in TASKS:
        folder = data_dir / task
        datalist = folder / "datalist.json"
        started = time.time()
        if not datalist.is_file():
            make_task_data(task, folder, subjects=subjects, seed=2026, overwrite=True)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        made[task] = {"datalist": datalist, "seconds": time.time() - started, "megabytes": size}
    return made


def _first_images(datalist: Path) -> dict[str, np.ndarray]:
    """Axial slices (H, W) of the first test subject's images, by key.

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
    return {name: volume_to_slices(vol)[vol.shape[2] // 2 if z is None else z] for name, vol in volumes.items()}


def _figure(task: str, datalist: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = _first_images(datalist)
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9), squeeze=False)
    for ax, (name, img) in zip(axes[0], images.items(), strict=True):
        ax.imshow(img, cmap="gray")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{task} (synthetic, MNI152-derived)", fontsize=10)
    fig.tight_layout()
    path = out / f"{task}_data.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run_demo(out: Path, data_dir: Path, subjects: int = 6) -> int:
    """Make the demo data, run every bundle found in ``bundles/`` and write ``out/report.html``.

    Returns:
        0 when every step passed, 1 otherwise.
    """
    out.mkdir(parents=True, exist_ok=True)
    made = ensure_demo_data(data_dir, subjects)
    bundles = sorted(p.name for p in Path("bundles").glob("*/configs/metadata.json"))
    rows = []
    for task, info in made.items():
        figure = _figure(task, info["datalist"], out)
        rows.append((task, info, figure))
    parts = ["<html><head><meta charset='utf-8'><title>mri-monai demo</title></head><body>", "<h1>mri-monai demo</h1>"]
    parts.append("<p>All data are SYNTHETIC subjects derived from the MNI152 2009a template; research use only.</p>")
    parts.append(f"<p>Bundles found: {html.escape(', '.join(bundles) or 'none yet')}</p>")
    for task, info, figure in rows:
        parts.append(f"<h2>{task}</h2><p>{html.escape(TASKS[task].description)}; {info['megabytes']:.1f} MB</p>")
        parts.append(f"<img src='{figure.name}'>")
    parts.append("</body></html>")
    (out / "report.html").write_text("\n".join(parts))
    print(f"{'task':<17} {'MB':>7} {'made in (s)':>11}")
    for task, info, _ in rows:
        print(f"{task:<17} {info['megabytes']:>7.1f} {info['seconds']:>11.1f}")
    print(f"bundles: {', '.join(bundles) or 'none yet'}; report: {out / 'report.html'}")
    return 0

"""``benchmarks/reproduce_metadata.py``: a bundle's ``eval_metrics`` recomputed from its shipped weights.

The fast tests check how metadata numbers are found in an evaluate summary and which data each README names; the slow
test runs the command on the cheapest bundle and compares its headline number with the metadata.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "reproduce_metadata.py"
BUNDLES = sorted(p for p in (ROOT / "bundles").iterdir() if (p / "configs" / "metadata.json").is_file())


@pytest.fixture(scope="module")
def reproduce() -> ModuleType:
    """The script, imported as a module."""
    spec = importlib.util.spec_from_file_location("reproduce_metadata", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_locate_reads_the_summary_methods(reproduce):
    summary = {"methods": {"network": {"psnr": 30.0, "ssim_4x": 0.92}, "cubic": {"psnr": 28.0}}}
    assert reproduce.locate(summary, "cubic", "psnr") == 28.0
    assert reproduce.locate(summary, "network", "ssim_4x") == 0.92
    for method, metric in [("unknown", "psnr"), ("network", "lpips"), ("cubic", "ssim_4x")]:
        with pytest.raises(KeyError):
            reproduce.locate(summary, method, metric)


def test_compare_flags_differences_beyond_the_tolerance_and_leaves_timings_out(reproduce):
    summary = {"methods": {"network": {"psnr": 30.02, "ssim": 0.902, "fd": 0.00255, "seconds": 9.0}}}
    eval_metrics = {"network": {"psnr": 30.0, "ssim": 0.9, "fd": 0.00246, "seconds": 1.0}}
    rows = {r["name"]: r for r in reproduce.compare(eval_metrics, summary, rel_tol=1e-3, abs_tol=1e-4)}
    assert rows["network.psnr"]["status"] == "ok"  # 0.02 dB: within 0.1 % of 30
    assert rows["network.psnr"]["difference"] == pytest.approx(0.02)
    assert rows["network.ssim"]["status"] == "DIFFERS"  # 0.002: more than 0.1 % of 0.9 and than 1e-4
    assert rows["network.fd"]["status"] == "ok"  # 9e-5: within the absolute 1e-4
    assert rows["network.seconds"]["status"] == "timing"
    table = reproduce.markdown(list(rows.values()))
    assert "| network.ssim | 0.9 | 0.902 | +0.002 | DIFFERS |" in table


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_every_readme_names_the_data_of_its_metadata(reproduce, bundle):
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    spec = reproduce.readme_data(bundle)
    assert spec["task"] == meta["mri_monai"]["data_task"]
    assert spec["subjects"] >= 3 and spec["seed"] >= 0


def test_ensure_data_refuses_data_of_another_command(reproduce, tmp_path):
    spec = {"task": "synthesis", "out": "demo_data/synthesis", "subjects": 12, "seed": 0}
    other = {"task": "synthesis", "seed": 2026, "options": {}, "randomisation": None}
    (tmp_path / "datalist.json").write_text(json.dumps({**other, "training": [{}] * 9, "validation": [{}], "test": []}))
    with pytest.raises(ValueError, match="2026"):
        reproduce.ensure_data(tmp_path, spec)


def test_lesion_options_of_the_readme_command_are_passed_and_checked(reproduce, tmp_path):
    bundle = tmp_path / "seg"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "docs").mkdir()
    (bundle / "configs" / "train.json").write_text(json.dumps({"dataset_dir": "demo_data/segmentation"}))
    (bundle / "docs" / "README.md").write_text(
        "`mri-monai make-data segmentation --out demo_data/segmentation --subjects 40 --seed 0 --lesions realistic "
        "--tumour-free 0.2`"
    )
    spec = reproduce.readme_data(bundle)
    assert spec["options"] == {"lesions": "realistic", "tumour_free": 0.2}
    made = {"task": "segmentation", "seed": 0, "randomisation": None, "options": {"lesions": "realistic"}}
    (tmp_path / "datalist.json").write_text(json.dumps({**made, "training": [{}] * 40, "validation": [], "test": []}))
    with pytest.raises(ValueError, match="--tumour-free 0.2"):  # made without --tumour-free 0.2
        reproduce.ensure_data(tmp_path, spec)
    made["options"]["tumour_free"] = 0.2
    (tmp_path / "datalist.json").write_text(json.dumps({**made, "training": [{}] * 40, "validation": [], "test": []}))
    assert reproduce.ensure_data(tmp_path, spec) == tmp_path


@pytest.mark.slow
def test_slice_synthesis_headline_number_is_reproduced(tmp_path):
    """The synthesis bundle (the cheapest evaluate: 2D samples) recomputed from the README's data and its weights."""
    bundle = ROOT / "bundles" / "brain_mri_t1_slice_synthesis"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(SCRIPT), str(bundle), "--data", str(tmp_path / "data"),
               "--output_dir", str(tmp_path / "eval")]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"  # every number agrees
    assert "| network.tissue_fd | 0.05913 |" in result.stdout
    summary = json.loads((tmp_path / "eval" / "metrics_summary.json").read_text())
    shipped = json.loads((bundle / "configs" / "metadata.json").read_text())["eval_metrics"]
    # headline: the network's tissue_fd (primary metric), rounded to 5 decimals; allowed 1e-4 (0.2 % of 0.059)
    assert summary["primary_metric"] == "tissue_fd"
    assert abs(summary["methods"]["network"]["tissue_fd"] - shipped["network"]["tissue_fd"]) <= 1e-4

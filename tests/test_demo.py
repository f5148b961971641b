"""The main job: every bundle's inference and evaluation on the demo data, reported; a failing bundle does not stop it.

Two toy bundles stand in for the real ones (those run in tests/test_bundles.py): one writes a figure and a metrics
summary, the other fails in both workflows.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mri_monai import demo
from mri_monai.bundle_run import bundle_command, run_bundle
from mri_monai.cli import main
from mri_monai.demo import run_demo

IMPORTS = [
    "$import os",
    "$import sys",
    "$import json",
    "$import pathlib",
    "$import numpy",
    "$import matplotlib.pyplot as plt",
]
MAKE_DIR = "$os.makedirs(@output_dir, exist_ok=True)"
WRITE_FIGURE = "$plt.imsave(pathlib.Path(@output_dir) / 'figure.png', numpy.eye(8))"
WRITE_SUMMARY = (
    "$(pathlib.Path(@output_dir) / 'metrics_summary.json').write_text(json.dumps("
    "{'primary_metric': 'psnr', 'higher_is_better': True, 'baseline': 'cubic',"
    " 'methods': {'network': {'psnr': 31.5}, 'cubic': {'psnr': 29.25}}}))"
)
FAIL = "$sys.exit('toy bundle: missing key kspace in sub-000.h5')"


def _toy_bundle(root: Path, name: str, fails: bool) -> Path:
    bundle = root / name
    (bundle / "configs").mkdir(parents=True)
    meta = {"version": "0.1.0", "mri_monai": {"data_task": "denoising"}}
    (bundle / "configs" / "metadata.json").write_text(json.dumps(meta))
    (bundle / "configs" / "logging.conf").write_text(
        "[loggers]\nkeys=root\n[handlers]\nkeys=console\n[formatters]\nkeys=plain\n"
        "[logger_root]\nlevel=INFO\nhandlers=console\n[handler_console]\nclass=StreamHandler\nformatter=plain\n"
        "args=(sys.stdout,)\n[formatter_plain]\nformat=%(message)s\n"
    )
    common = {"imports": IMPORTS, "bundle_root": ".", "output_dir": "out", "dataset_dir": "data"}
    inference = {**common, "run": [MAKE_DIR, FAIL if fails else WRITE_FIGURE]}
    (bundle / "configs" / "inference.json").write_text(json.dumps(inference))
    (bundle / "configs" / "train.json").write_text(json.dumps({**common, "run": [FAIL]}))
    (bundle / "configs" / "evaluate.json").write_text(json.dumps({"run": [MAKE_DIR, FAIL if fails else WRITE_SUMMARY]}))
    return bundle


def test_bundle_command_merges_evaluate_onto_train():
    command = bundle_command(Path("b"), "evaluate", {"epochs": "1"})
    configs = json.loads(command[command.index("--config_file") + 1])
    assert configs == ["b/configs/train.json", "b/configs/evaluate.json"]
    assert command[-2:] == ["--epochs", "1"]
    with pytest.raises(ValueError, match="unknown workflow"):
        bundle_command(Path("b"), "train_forever", {})


@pytest.mark.slow
def test_demo_reports_every_bundle_and_fails_when_one_fails(tmp_path, capsys):
    bundles = tmp_path / "bundles"
    good, bad = _toy_bundle(bundles, "good_bundle", fails=False), _toy_bundle(bundles, "bad_bundle", fails=True)
    out, data = tmp_path / "demo_output", tmp_path / "data"
    (data / "denoising" / "sub-000").mkdir(parents=True)  # made already: the demo keeps it
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), data / "denoising" / "sub-000" / "t1w.nii.gz")
    (data / "denoising" / "datalist.json").write_text(json.dumps({"test": [{"image": "sub-000/t1w.nii.gz"}]}))

    assert run_demo(out, data, subjects=3, bundles_dir=bundles) == 1

    printed = capsys.readouterr().out
    assert "psnr: network 31.5 vs cubic 29.25" in printed
    assert printed.count("FAILED") == 2 and "2 bundles, 2 failed run(s)" in printed
    report = (out / "report.html").read_text()
    assert "good_bundle" in report and "bad_bundle" in report
    assert "missing key kspace in sub-000.h5" in report  # the failing run's error is shown
    assert "good_bundle/inference/figure.png" in report and (out / "good_bundle" / "inference" / "figure.png").is_file()
    assert "<td>31.5</td>" in report and "<td>29.25</td>" in report
    assert run_bundle(good, "inference", data / "denoising", tmp_path / "again").ok
    assert not run_bundle(bad, "inference", data / "denoising", tmp_path / "again_bad").ok


@pytest.mark.slow
def test_demo_from_another_folder_runs_the_bundles_given(tmp_path, monkeypatch, capsys):
    bundles = tmp_path / "elsewhere" / "bundles"
    _toy_bundle(bundles, "good_bundle", fails=False)
    data = tmp_path / "data" / "denoising"
    (data / "sub-000").mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), data / "sub-000" / "t1w.nii.gz")
    datalist = {"description": "my scans", "test": [{"image": "sub-000/t1w.nii.gz"}]}
    (data / "datalist.json").write_text(json.dumps(datalist))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # neither bundles/ nor data here

    assert main(["demo", "--bundles", str(bundles), "--data", str(tmp_path / "data"), "--out", "report"]) == 0

    assert "1 bundles, 0 failed run(s)" in capsys.readouterr().out
    report = (work / "report" / "report.html").read_text()
    assert "good_bundle" in report and "my scans" in report
    assert "SYNTHETIC" not in report  # the data are not the project's: not called synthetic


def test_demo_data_get_the_options_of_the_bundles_metadata(tmp_path, monkeypatch):
    """A bundle trained on other than make-data's defaults (metadata ``mri_monai.data_options``) gets demo data made
    with those options; the other tasks get the defaults."""
    calls = {}

    def fake_make(task, folder, **kwargs):
        calls[task] = kwargs
        folder.mkdir(parents=True)
        (folder / "datalist.json").write_text("{}")
        return folder / "datalist.json"

    monkeypatch.setattr(demo, "make_task_data", fake_make)
    bundles = tmp_path / "bundles"
    seg, den = _toy_bundle(bundles, "seg_bundle", fails=False), _toy_bundle(bundles, "den_bundle", fails=False)
    meta = {"version": "0.1.0", "mri_monai": {"data_task": "segmentation", "data_options": {"lesions": "realistic"}}}
    (seg / "configs" / "metadata.json").write_text(json.dumps(meta))
    tasks = demo.demo_data_tasks([seg, den])
    assert tasks == {"denoising": {}, "segmentation": {"lesions": "realistic"}}
    assert set(demo.ensure_demo_data(tmp_path / "data", 3, tasks)) == {"denoising", "segmentation"}
    assert calls["segmentation"]["lesions"] == "realistic" and "lesions" not in calls["denoising"]
    assert calls["segmentation"]["subjects"] == 3 and calls["segmentation"]["seed"] == 2026

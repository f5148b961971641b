"""The README's "Your own scans" tour: each bundle's command, as written there, on folders of a user's files.

The commands are read from README.md, so the README and the test cannot drift apart; ``~/scans/<folder>`` and
``~/out/<name>`` become folders of this test (made by ``tests/user_scans.py``: fastMRI files with a stored mask and no
reference, NIfTI volumes, a DICOM series, BraTS case folders). Each command runs in its own process, from the
bundle's folder, as a user runs it. Bad inputs must stop a run with the file named, a non-zero status and no output.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from user_scans import KSPACE_SHAPE, SHAPE, affine, brats_folder, dicom_series, fastmri_file, nifti_folder

from mri_monai.cli import main
from mri_monai.demo import find_bundles

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def tour_commands() -> dict[str, list[str]]:
    """bundle name -> the arguments of its ``python -m monai.bundle run`` line(s) in README's "Your own scans"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Your own scans") : text.index("## The demo")]
    commands, bundle = {}, None
    for line in section.splitlines():
        if line.startswith("cd bundles/"):
            bundle = line.split("/", 1)[1].strip()
        elif line.startswith("python -m monai.bundle run"):
            commands[bundle] = shlex.split(line)[1:]
    return commands


def _run(bundle: str, args: list[str], scans: Path, out: Path) -> subprocess.CompletedProcess:
    def place(arg: str) -> str:
        return re.sub(r"^~/(scans|out)/", lambda m: f"{scans if m.group(1) == 'scans' else out}/", arg)

    command = [sys.executable, *(place(a) for a in args)]
    return subprocess.run(command, cwd=ROOT / "bundles" / bundle, env=ENV, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scans")
    fastmri_file(root / "multicoil" / "file_brain_AXT2_001.h5")
    fastmri_file(root / "singlecoil" / "file_brain_AXT2_002.h5", multicoil=False)
    nifti_folder(root / "t1w", count=1)
    dicom_series(root / "t1w" / "series_1")
    brats_folder(root / "brats")
    return root


def test_the_tour_covers_every_bundle_with_an_input():
    commands = tour_commands()
    assert sorted(commands) == sorted(b.name for b in find_bundles() if b.name != "brain_mri_t1_slice_synthesis")
    assert all(args[:4] == ["-m", "monai.bundle", "run", "--config_file"] for args in commands.values())


@pytest.mark.parametrize("bundle", [b.name for b in find_bundles()])
def test_inference_builds_its_data_list_with_the_shared_helper(bundle):
    config = json.loads((ROOT / "bundles" / bundle / "configs" / "inference.json").read_text())
    targets = {v.get("_target_") for v in config.values() if isinstance(v, dict)}
    if bundle == "brain_mri_t1_slice_synthesis":  # no input: it samples latent vectors
        assert "files" not in config and "dataset" in config
        return
    assert config["files"] is None
    helpers = {"mri_monai.data.datalists.bundle_data_list", "mri_monai.registration.bundle_registration_pairs"}
    assert targets & helpers, sorted(t for t in targets if t)


def _nifti(path: Path) -> tuple[tuple[int, ...], np.dtype, np.ndarray]:
    image = nib.load(path)
    return image.shape, image.get_data_dtype(), image.affine


#: bundle -> (output file relative to the bundle's output folder, its shape); PNG figures are checked besides
SCAN_AFFINE = affine()
SR_AFFINE = SCAN_AFFINE @ np.diag([1.0, 1.0, 0.5, 1.0])
RECON_SHAPE = (KSPACE_SHAPE[3], KSPACE_SHAPE[2], KSPACE_SHAPE[0])  # (W, H, slices)
EXPECTED = {
    "brain_mri_varnet_reconstruction": [("file_brain_AXT2_001_varnet.nii.gz", RECON_SHAPE)],
    "brain_mri_cascade_reconstruction": [("file_brain_AXT2_002_cascade.nii.gz", RECON_SHAPE)],
    "brain_mri_denoising": [("scan_0_denoised.nii.gz", SHAPE), ("series_1_denoised.nii.gz", SHAPE)],
    "brain_mri_super_resolution": [("scan_0_sr.nii.gz", (*SHAPE[:2], 2 * SHAPE[2])), ("series_1_sr.nii.gz", None)],
    "brain_mri_srgan_3d": [("scan_0_srgan.nii.gz", (*SHAPE[:2], 2 * SHAPE[2])), ("series_1_srgan.nii.gz", None)],
    "brain_mri_t1_t2_translation": [("scan_0_translated.nii.gz", SHAPE), ("series_1_translated.nii.gz", SHAPE)],
    "brats_mri_vox2vox_segmentation": [("CASE_000/CASE_000_t1_seg.nii.gz", SHAPE), ("CASE_001_seg.nii.gz", SHAPE)],
    "brain_mri_voxelmorph_registration": [("scan_0_warped.nii.gz", SHAPE), ("scan_0_ddf.nii.gz", (*SHAPE, 3))],
}


@pytest.mark.slow
@pytest.mark.parametrize("bundle", sorted(EXPECTED))
def test_tour_command_on_a_plain_folder(bundle, scans, tmp_path):
    out = tmp_path / "out"
    result = _run(bundle, tour_commands()[bundle], scans, out)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    folder = next(out.iterdir())  # ~/out/<name>
    for name, shape in EXPECTED[bundle]:
        path = folder / name
        assert path.is_file(), sorted(p.relative_to(folder) for p in folder.rglob("*"))
        assert path.with_name(path.name.replace("_ddf", "_warped").replace(".nii.gz", ".png")).is_file()
        out_shape, dtype, out_affine = _nifti(path)
        assert out_shape == (shape or out_shape)
        assert dtype == (np.uint8 if bundle.startswith("brats") else np.float32)
        if name.startswith("scan_0") or name.startswith("CASE"):  # the NIfTI inputs' geometry is kept
            expected = SR_AFFINE if "_sr" in name else SCAN_AFFINE
            np.testing.assert_allclose(out_affine, expected, atol=1e-4)
    if bundle.endswith("reconstruction"):
        source = next((scans / ("multicoil" if "varnet" in bundle else "singlecoil")).glob("*.h5"))
        with h5py.File(folder / "submission" / source.name) as f:
            assert f["reconstruction"].shape == (KSPACE_SHAPE[0], *KSPACE_SHAPE[-2:])
            assert np.isfinite(f["reconstruction"][()]).all() and f["reconstruction"][()].max() > 0
    if bundle.startswith("brats"):
        labels = np.unique(np.asarray(nib.load(folder / EXPECTED[bundle][0][0]).dataobj))
        assert set(labels.tolist()) <= {0, 1, 2, 4}


def _written(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file()) if out.exists() else []


def test_an_unknown_file_stops_the_run_naming_it(tmp_path):
    nifti_folder(tmp_path / "scans" / "t1w", count=1)
    stray = tmp_path / "scans" / "t1w" / "scan_1.mha"
    stray.write_bytes(b"\0" * 64)
    result = _run("brain_mri_denoising", tour_commands()["brain_mri_denoising"], tmp_path / "scans", tmp_path / "out")
    assert result.returncode != 0
    assert f"{stray}: not an input of this bundle" in result.stdout + result.stderr
    assert _written(tmp_path / "out") == []


def test_an_empty_folder_is_an_error_not_a_green_run(tmp_path):
    (tmp_path / "scans" / "t1w").mkdir(parents=True)
    (tmp_path / "scans" / "t1w" / "README.txt").write_text("my scans go here")
    result = _run("brain_mri_t1_t2_translation", tour_commands()["brain_mri_t1_t2_translation"], tmp_path / "scans",
                  tmp_path / "out")  # fmt: skip
    assert result.returncode != 0
    assert f"{tmp_path / 'scans' / 't1w'}: folder holds no input" in result.stdout + result.stderr
    assert _written(tmp_path / "out") == []


@pytest.mark.slow
def test_an_unreadable_file_stops_the_run_with_nothing_written_for_it(tmp_path):
    (tmp_path / "scans" / "t1w").mkdir(parents=True)
    broken = tmp_path / "scans" / "t1w" / "scan_0.nii.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    result = _run("brain_mri_denoising", tour_commands()["brain_mri_denoising"], tmp_path / "scans", tmp_path / "out")
    assert result.returncode != 0
    assert f"{broken}: not a readable NIfTI image" in result.stdout + result.stderr
    assert _written(tmp_path / "out") == []


def test_demo_with_no_bundles_exits_non_zero_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(["demo", "--bundles", "empty", "--out", "report", "--data", "data"]) == 2
    assert f"{tmp_path / 'empty'}: no bundle found" in capsys.readouterr().err
    assert not (tmp_path / "report").exists() and not (tmp_path / "data").exists()


def test_demo_finds_the_projects_bundles_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no bundles/ here
    found = find_bundles()
    assert [b.parent for b in found] == [ROOT / "bundles"] * len(found)
    assert {b.name for b in found} >= {"brain_mri_varnet_reconstruction", "brats_mri_vox2vox_segmentation"}
    assert len(found) == len(list((ROOT / "bundles").glob("*/configs/metadata.json")))

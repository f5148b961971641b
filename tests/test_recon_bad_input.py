"""Bad input to the reconstruction bundles' inference: a clear error naming the file, non-zero exit, no output.

Each case runs ``python -m monai.bundle run`` on ``inference.json`` in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mri_monai.data.fastmri_h5 import write_fastmri_h5

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_varnet_reconstruction"
SHAPE = (2, 4, 32, 32)  # slices, coils, H, W


def _valid(path: Path) -> None:
    rng = np.random.default_rng(0)
    kspace = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    image = np.sqrt((np.abs(np.fft.ifft2(kspace)) ** 2).sum(axis=1)).astype(np.float32)
    write_fastmri_h5(path, kspace, image, acquisition="AXT1")


def _edit(path: Path, case: str) -> None:
    if case == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return
    with h5py.File(path, "r+") as f:
        kspace = f["kspace"][()]
        if case == "real_valued":
            del f["kspace"]
            f.create_dataset("kspace", data=kspace.real.astype(np.float32))
        elif case == "mask_does_not_broadcast":
            f.create_dataset("mask", data=np.ones(SHAPE[-1] - 5, dtype=bool))
        elif case == "missing_kspace":
            del f["kspace"]
        elif case == "nan":
            kspace[0, 0, 3, 3] = np.nan
            f["kspace"][...] = kspace


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["valid", "real_valued", "mask_does_not_broadcast", "missing_kspace", "nan", "truncated"]
)
def test_inference_on_bad_input(case, tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    source = data / "sub-000" / "kspace_multicoil.h5"
    source.parent.mkdir(parents=True)
    _valid(source)
    _edit(source, case)
    entry = {"subject": "sub-000", "multicoil": "sub-000/kspace_multicoil.h5"}
    (data / "datalist.json").write_text(json.dumps({"training": [], "validation": [], "test": [entry]}))
    cmd = [sys.executable, "-m", "monai.bundle", "run",
           "--config_file", str(BUNDLE / "configs" / "inference.json"),
           "--meta_file", str(BUNDLE / "configs" / "metadata.json"),
           "--bundle_root", str(BUNDLE), "--dataset_dir", str(data), "--output_dir", str(out),
           "--num_workers", "0"]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    written = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) if out.exists() else []
    if case == "valid":
        assert result.returncode == 0, result.stderr[-3000:]
        assert Path("sub-000/kspace_multicoil_varnet.nii.gz") in written
        return
    assert result.returncode != 0
    assert f"{source}:" in result.stdout + result.stderr, result.stderr[-3000:]
    assert written == [], f"partial output after a failure: {written}"

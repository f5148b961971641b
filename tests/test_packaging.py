"""A wheel of the project carries every file of ``mri_monai/``, and the package run from it finds its data files.

The wheel is built from a copy of the files the build reads (so the checkout gets no ``build/`` or ``*.egg-info``)
with ``pip wheel --no-build-isolation`` (no download), as ``pip install .`` would build it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what ``setup.cfg`` reads to build the wheel (metadata, long description, licence) besides the package
BUILD_FILES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE")


def package_files() -> list[str]:
    """Every file of the source package (``mri_monai/...``, POSIX paths), Python or not, without caches."""
    files = (ROOT / "mri_monai").rglob("*")
    return sorted(p.relative_to(ROOT).as_posix() for p in files if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the sources."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "mri_monai", src / "mri_monai", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--quiet", str(src), "--wheel-dir", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    (built,) = out.glob("mri_monai-*.whl")
    return built


def test_wheel_holds_every_file_of_the_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        expected = package_files()
        assert "mri_monai/registration/parameter_maps/bspline.txt" in expected  # the walk sees the data files
        missing = [name for name in expected if name not in names]
        assert not missing, f"{wheel.name} lacks {missing}: declare them in setup.cfg [options.package_data]"
        changed = [name for name in expected if archive.read(name) != (ROOT / name).read_bytes()]
    assert not changed, f"{wheel.name} holds other contents for {changed}"


def test_package_run_from_the_wheel_finds_the_elastix_presets(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        "import json, mri_monai, mri_monai.registration.elastix as e; "
        "print(json.dumps([mri_monai.__file__, {n: str(e.preset_path(n)) for n in e.PRESETS}]))"
    )
    # the extracted wheel comes first on sys.path, before the checkout (cwd is elsewhere) and any editable install
    env = {**os.environ, "PYTHONPATH": str(site), "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    init, presets = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(init).is_relative_to(site)
    assert sorted(presets) == ["affine", "bspline", "rigid"]
    for name, path in presets.items():
        assert Path(path).is_relative_to(site) and Path(path).is_file(), f"preset {name}: {path}"
        source = ROOT / "mri_monai" / "registration" / "parameter_maps" / f"{name}.txt"
        assert Path(path).read_text() == source.read_text()

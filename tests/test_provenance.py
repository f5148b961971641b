"""Labels that tell the truth: "synthetic" only for data the project made; a user's data named by its file."""

from __future__ import annotations

import json

import h5py
import numpy as np
import torch
from matplotlib.figure import Figure
from monai.data import MetaTensor
from user_scans import fastmri_file

from mri_monai.comparison_figures import SaveSuperResolutionPNGd
from mri_monai.data.provenance import data_description, source_title, synthetic_origin
from mri_monai.recon.outputs import SaveComparisonFigured
from mri_monai.segmentation.figures import segmentation_figure


def _mark_synthetic(path):
    with h5py.File(path, "r+") as f:
        f.attrs["synthetic"] = "MNI152-derived"
    return path


def test_synthetic_only_for_what_the_project_made(tmp_path):
    user = fastmri_file(tmp_path / "file_brain_001.h5")
    made = fastmri_file(tmp_path / "sub-000" / "kspace_multicoil.h5")
    _mark_synthetic(made)
    assert synthetic_origin(user) is None and synthetic_origin(made) == "MNI152-derived"
    assert source_title(user, tmp_path) == "file_brain_001.h5"
    assert source_title(made, tmp_path) == "sub-000/kspace_multicoil.h5 (synthetic, MNI152-derived)"
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"description": "SYNTHETIC denoising subjects", "test": []}))
    assert synthetic_origin(datalist) == "SYNTHETIC denoising subjects"
    assert data_description(datalist, tmp_path) == "SYNTHETIC denoising subjects"
    assert data_description(tmp_path / "none.json", tmp_path) == f"data in {tmp_path}"
    datalist.write_text(json.dumps({"description": "my clinic's scans", "test": []}))
    assert synthetic_origin(datalist) is None


def _suptitles(monkeypatch) -> list[str]:
    """Record the title of every figure saved from now on."""
    titles: list[str] = []
    save = Figure.savefig

    def record(fig, *args, **kwargs):
        titles.append(fig._suptitle.get_text() if fig._suptitle is not None else "")
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return titles


def test_reconstruction_figure_names_the_file_and_says_synthetic_only_for_ours(tmp_path, monkeypatch):
    titles = _suptitles(monkeypatch)
    user = fastmri_file(tmp_path / "file_brain_AXT2_001.h5")
    made = _mark_synthetic(fastmri_file(tmp_path / "sub-000" / "kspace_multicoil.h5"))
    save = SaveComparisonFigured("pred", tmp_path / "out", tmp_path, "varnet", title="E2E VarNet")
    for source in (user, made):
        save({"pred": torch.ones(2, 8, 8), "zero_filled": torch.ones(2, 8, 8), "filename": str(source)})
    assert titles == [
        "E2E VarNet file_brain_AXT2_001.h5 slice 1",
        "E2E VarNet sub-000/kspace_multicoil.h5 (synthetic, MNI152-derived) slice 1",
    ]
    assert (tmp_path / "out" / "file_brain_AXT2_001_varnet.png").is_file()
    assert (tmp_path / "out" / "sub-000" / "kspace_multicoil_varnet.png").is_file()


def test_image_figures_are_titled_with_the_input_file(tmp_path, monkeypatch):
    titles = _suptitles(monkeypatch)
    image = MetaTensor(torch.rand(1, 8, 8, 8), meta={"filename_or_obj": str(tmp_path / "scans" / "scan_0.nii.gz")})
    SaveSuperResolutionPNGd(["image"], ["input"], tmp_path / "out", data_root_dir=tmp_path / "scans")({"image": image})
    assert titles == ["scan_0.nii.gz"]
    figure = segmentation_figure(torch.rand(4, 8, 8, 8), torch.zeros(8, 8, 8), title="CASE_000/CASE_000_t1.nii.gz")
    assert figure._suptitle.get_text().startswith("CASE_000/CASE_000_t1.nii.gz; red: necrotic core")
    assert np.isclose(len(figure.axes), 5)

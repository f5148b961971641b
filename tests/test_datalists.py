"""The one data-list helper of the bundles: a datalist split, a list of files, or every input in a folder."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from user_scans import brats_folder, dicom_series, fastmri_file, nifti_folder

from mri_monai.data.datalists import bundle_data_list, find_inputs, input_items, load_datalist_split
from mri_monai.errors import InputError


def _names(items: list[dict], key: str = "image") -> list:
    root = lambda p: Path(p).name  # noqa: E731
    return [[root(p) for p in item[key]] if isinstance(item[key], list) else root(item[key]) for item in items]


def test_folder_of_nifti_files_and_dicom_series(tmp_path):
    nifti_folder(tmp_path / "scans", count=2)
    dicom_series(tmp_path / "scans" / "series_1")
    (tmp_path / "scans" / "scan_0.json").write_text("{}")  # a BIDS sidecar: passed over
    (tmp_path / "scans" / ".DS_Store").write_bytes(b"\0")  # hidden: passed over
    items = bundle_data_list(tmp_path / "scans", tmp_path / "scans" / "datalist.json", "image", key="t1w")
    assert [sorted(item) for item in items] == [["t1w"]] * 3
    assert _names(items, "t1w") == ["scan_0.nii.gz", "scan_1.nii.gz", "series_1"]
    assert all(Path(item["t1w"]).is_absolute() for item in items)


def test_brats_case_folders_and_four_contrast_files(tmp_path):
    case, stacked = brats_folder(tmp_path)
    (case / "CASE_000_seg.nii.gz").write_bytes((case / "CASE_000_t1.nii.gz").read_bytes())
    items = find_inputs(tmp_path, "brats")
    assert _names(items) == ["CASE_001.nii.gz", ["CASE_000_t1.nii.gz", "CASE_000_t1ce.nii.gz", "CASE_000_t2.nii.gz",
                                                 "CASE_000_flair.nii.gz"]]  # fmt: skip
    assert Path(items[1]["label"]).name == "CASE_000_seg.nii.gz" and "label" not in items[0]
    (case / "CASE_000_flair.nii.gz").unlink()
    with pytest.raises(InputError, match=r"CASE_000: BraTS case folder lacks the flair file"):
        find_inputs(tmp_path, "brats")


def test_fastmri_files_must_have_the_bundles_coil_layout(tmp_path):
    multi = fastmri_file(tmp_path / "multi" / "file_brain_001.h5")
    single = fastmri_file(tmp_path / "single" / "file_brain_002.h5", multicoil=False)
    assert bundle_data_list(tmp_path / "multi", tmp_path / "multi" / "datalist.json", "multicoil", "multicoil") == [
        {"multicoil": str(multi)}
    ]
    assert find_inputs(tmp_path / "single", "singlecoil") == [{"image": str(single)}]
    with pytest.raises(InputError, match=rf"{single}: kspace of shape \(2, 32, 24\) is single-coil"):
        find_inputs(tmp_path, "multicoil")
    with h5py.File(single, "w") as f:
        f.create_dataset("image", data=np.zeros(3))
    with pytest.raises(InputError, match=rf"{single}: HDF5 file has no 'kspace' dataset"):
        find_inputs(tmp_path / "single", "singlecoil")
    single.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match=rf"{single}: not a readable HDF5 file"):
        find_inputs(tmp_path / "single", "singlecoil")


def test_unknown_files_and_empty_folders_are_errors(tmp_path):
    nifti_folder(tmp_path, count=1)
    (tmp_path / "scan_1.mha").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match=rf"{tmp_path / 'scan_1.mha'}: not an input of this bundle, which reads NIfTI"):
        find_inputs(tmp_path, "image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing")
    with pytest.raises(InputError, match=rf"{tmp_path / 'empty'}: folder holds no input"):
        bundle_data_list(tmp_path / "empty", tmp_path / "empty" / "datalist.json", "image")
    with pytest.raises(InputError, match="dataset_dir does not exist"):
        find_inputs(tmp_path / "missing", "image")


def test_output_dir_inside_the_folder_is_not_searched(tmp_path):
    nifti_folder(tmp_path, count=1)
    nifti_folder(tmp_path / "out", count=1)  # a previous run's outputs
    items = bundle_data_list(tmp_path, tmp_path / "datalist.json", "image", exclude=tmp_path / "out")
    assert _names(items) == ["scan_0.nii.gz"]


def test_files_list(tmp_path):
    nifti_folder(tmp_path / "scans", count=2)
    dicom_series(tmp_path / "scans" / "series_1")
    items = bundle_data_list(tmp_path / "scans", "unused.json", "image", files=["scan_1.nii.gz", "series_1"])
    assert _names(items) == ["scan_1.nii.gz", "series_1"]
    outside = nifti_folder(tmp_path / "elsewhere", count=1)[0]
    with pytest.raises(InputError, match=rf"{outside}: lies outside dataset_dir"):
        input_items([outside], "image", tmp_path / "scans")
    with pytest.raises(InputError, match="does not exist"):
        input_items(["scan_9.nii.gz"], "image", tmp_path / "scans")
    (tmp_path / "scans" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt: not an input of this bundle"):
        input_items(["notes.txt"], "image", tmp_path / "scans")
    with pytest.raises(InputError, match="--files: the list of files is empty"):
        input_items([], "image", tmp_path / "scans")


def test_a_datalist_is_used_when_present(tmp_path):
    nifti_folder(tmp_path, count=2)
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"test": [{"image": "scan_1.nii.gz", "subject": "s1"}]}))
    items = bundle_data_list(tmp_path, datalist, "image", key="t1w")
    assert items == [{"image": str(tmp_path / "scan_1.nii.gz"), "subject": "s1"}]  # the datalist's own keys
    with pytest.raises(InputError, match="other.json: datalist file does not exist"):
        bundle_data_list(tmp_path, tmp_path / "other.json", "image")  # a datalist asked for must exist


def test_load_datalist_split_fails_loudly(tmp_path):
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"training": [{"image": "a.nii.gz"}], "test": []}))
    assert load_datalist_split(path, "training")[0]["image"] == str(tmp_path / "a.nii.gz")
    with pytest.raises(InputError, match=r"split 'test' is missing or empty \(lists and their lengths: "):
        load_datalist_split(path, "test")
    path.write_text("{not json")
    with pytest.raises(InputError, match="datalist is not readable JSON"):
        load_datalist_split(path, "test")

"""fastMRI HDF5 layout: bit-exact round trip, compatibility with fastMRI and MONAI readers, bad inputs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest
from monai.apps.reconstruction.fastmri_reader import FastMRIReader
from monai.bundle import ConfigParser
from monai.transforms import LoadImaged

from mri_monai.data.fastmri_h5 import (
    ISMRMRD_NAMESPACE,
    ismrmrd_header,
    read_fastmri_h5,
    write_fastmri_h5,
    write_submission_h5,
)
from mri_monai.data.readers import FastMRIH5Reader
from mri_monai.errors import InputError

SLICES, COILS, H, W = 3, 4, 10, 8


def _kspace(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


@pytest.fixture
def volume(tmp_path):
    kspace = _kspace(SLICES, COILS, H, W)
    rss = np.random.default_rng(1).random((SLICES, 6, 6)).astype(np.float32)
    mask = np.array([0, 1, 0, 1, 1, 0, 1, 0], np.float32)
    path = write_fastmri_h5(tmp_path / "sub-000.h5", kspace, rss, acquisition="AXT2", mask=mask)
    return path, kspace, rss, mask


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def _fastmri_query(root, names):
    """The lookup fastMRI's SliceDataset does: nested ``//ns:name`` steps in the ISMRMRD namespace."""
    return root.find("." + "".join(f"//ns:{n}" for n in names), {"ns": ISMRMRD_NAMESPACE}).text


def test_round_trip_is_bit_exact(volume):
    path, kspace, rss, mask = volume
    vol = read_fastmri_h5(path)
    assert vol.kspace.dtype == np.complex64 and vol.multicoil
    np.testing.assert_array_equal(vol.kspace, kspace)
    assert vol.reconstruction.dtype == np.float32
    np.testing.assert_array_equal(vol.reconstruction, rss)
    np.testing.assert_array_equal(vol.mask, mask)
    assert vol.attrs["acquisition"] == "AXT2"
    assert vol.attrs["patient_id"] == "sub-000"
    assert vol.attrs["max"] == pytest.approx(float(rss.max()), rel=0)
    assert vol.attrs["norm"] == pytest.approx(float(np.sqrt((rss.astype(np.float64) ** 2).sum())), rel=1e-12)
    assert vol.header_xml == ismrmrd_header((H, W), (6, 6), (H, W, 1.0), num_slices=SLICES)
    assert vol.recon_size == (6, 6)


def test_header_as_fastmri_reads_it(volume):
    root = ET.fromstring(read_fastmri_h5(volume[0]).header_xml)
    enc = [int(_fastmri_query(root, ["encoding", "encodedSpace", "matrixSize", a])) for a in "xyz"]
    rec = [int(_fastmri_query(root, ["encoding", "reconSpace", "matrixSize", a])) for a in "xyz"]
    lims = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
    center, maximum = (int(_fastmri_query(root, [*lims, k])) for k in ("center", "maximum"))
    assert enc == [H, W, 1] and rec == [6, 6, 1]
    padding_left = enc[1] // 2 - center  # fastMRI's computation: no padding of the phase-encoding lines
    assert (padding_left, padding_left + maximum + 1) == (0, W)
    fov = [float(_fastmri_query(root, ["encoding", "reconSpace", "fieldOfView_mm", a])) for a in "xyz"]
    assert fov == [6.0, 6.0, 1.0]


def test_single_coil_esc_file_without_header(tmp_path):
    path = tmp_path / "file1000.h5"
    kspace, esc = _kspace(2, 6, 4), np.ones((2, 3, 3), np.float32)
    with h5py.File(path, "w") as f:  # as fastMRI's single-coil files: reconstruction_esc, string attrs
        f["kspace"], f["reconstruction_esc"] = kspace, esc
        f.attrs["acquisition"] = "CORPD_FBK"
    vol = read_fastmri_h5(path)
    assert not vol.multicoil and vol.header_xml is None and vol.recon_size is None and vol.mask is None
    np.testing.assert_array_equal(vol.reconstruction, esc)
    assert vol.attrs == {"acquisition": "CORPD_FBK"}


def test_monai_fastmri_reader_reads_our_files(volume):
    path, kspace, rss, _ = volume
    reader = FastMRIReader()
    data, meta = reader.get_data(reader.read(path))
    np.testing.assert_array_equal(data, kspace)
    np.testing.assert_array_equal(meta["reconstruction_rss"], rss)
    assert meta["max"] == pytest.approx(float(rss.max())) and meta["acquisition"] == "AXT2"


def test_reader_in_load_image_multicoil(volume):
    path, kspace, rss, mask = volume
    load = LoadImaged("kspace", reader=FastMRIH5Reader, dtype=np.complex64, ensure_channel_first=True)
    out = load({"kspace": str(path)})["kspace"]
    assert out.shape == (COILS, SLICES, H, W) and out.dtype.is_complex
    np.testing.assert_array_equal(out.numpy(), np.moveaxis(kspace, 1, 0))
    np.testing.assert_array_equal(out.meta["reconstruction_rss"], rss)
    np.testing.assert_array_equal(out.meta["mask"], mask)
    assert out.meta["filename_or_obj"] == str(path)
    assert list(out.meta["spatial_shape"]) == [SLICES, H, W] and list(out.meta["recon_size"]) == [6, 6]
    assert out.meta["acquisition"] == "AXT2" and out.meta["max"] == pytest.approx(float(rss.max()))
    np.testing.assert_array_equal(out.affine.numpy(), np.eye(4))


def test_reader_single_coil_gets_a_channel_from_bundle_config(tmp_path):
    path = write_fastmri_h5(tmp_path / "sc.h5", _kspace(2, H, W), acquisition="CORPD_FBK")
    config = {
        "load": {
            "_target_": "LoadImaged",
            "keys": "kspace",
            "dtype": None,
            "ensure_channel_first": True,
            "reader": {"_target_": "mri_monai.data.readers.FastMRIH5Reader"},
        }
    }
    out = ConfigParser(config).get_parsed_content("load")({"kspace": str(path)})["kspace"]
    assert out.shape == (1, 2, H, W)
    assert "reconstruction_rss" not in out.meta and "max" not in out.meta and "mask" not in out.meta


def test_submission_layout(tmp_path):
    recon = np.random.default_rng(2).random((SLICES, 5, 5))
    path = write_submission_h5(tmp_path / "file1.h5", recon)
    with h5py.File(path, "r") as f:
        assert list(f.keys()) == ["reconstruction"]
        assert f["reconstruction"].dtype == np.float32
        np.testing.assert_array_equal(f["reconstruction"][()], recon.astype(np.float32))
    with pytest.raises(InputError, match="already exists"):
        write_submission_h5(path, recon)
    with pytest.raises(InputError, match="must be real"):
        write_submission_h5(tmp_path / "c.h5", recon.astype(np.complex64))


def _write_raw(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_text("not hdf5"), "cannot be read as HDF5"),
        (lambda p: _write_raw(p, mask=np.ones(4), reconstruction_rss=np.ones((1, 2, 2))), "keys: ['mask', 'recon"),
        (lambda p: _write_raw(p, kspace=np.ones((2, 4, 4), np.float32)), "must be complex, got float32"),
        (lambda p: _write_raw(p, kspace=_kspace(4, 4)), "got 2D shape (4, 4)"),
        (lambda p: _write_raw(p, kspace=np.full((1, 2, 2), np.nan + 0j, np.complex64)), "4 NaN or infinite"),
        (lambda p: _write_raw(p, kspace=_kspace(1, 4, 6), mask=np.ones(5)), "mask has 5 entries but"),
        (lambda p: _write_raw(p, kspace=_kspace(2, 4, 6), reconstruction_rss=np.ones((3, 4, 4))), "slices=2"),
        (lambda p: _write_raw(p, kspace=_kspace(1, 4, 6), ismrmrd_header=b"<a><b></a>"), "not valid XML"),
        (lambda p: None, "does not exist"),
    ],
)
def test_bad_files_raise_input_error_naming_the_file(tmp_path, make, problem):
    path = tmp_path / "bad.h5"
    make(path)
    with pytest.raises(InputError, match=re.escape(problem)) as err:
        read_fastmri_h5(path)
    assert str(err.value).startswith(f"{path}: ")


def test_truncated_file(volume):
    path = volume[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot be read as HDF5") as err:
        LoadImaged("kspace", reader=FastMRIH5Reader(), dtype=None)({"kspace": str(path)})
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"kspace": np.ones((2, 4, 4), np.float32)}, "must be complex"),
        ({"kspace": _kspace(2, 1, 2, 4, 4)}, "got 5D"),
        ({"kspace": np.full((2, 4, 4), np.inf, np.complex64)}, "32 NaN or infinite"),
        ({"reconstruction_rss": np.ones((3, 4, 4))}, "slices=2"),
        ({"reconstruction_rss": np.full((2, 4, 4), np.nan)}, "reconstruction_rss contains"),
        ({"mask": np.ones(5)}, "mask has 5 entries"),
        ({"extra_attrs": {"max": 1.0}}, "may not replace ['max']"),
    ],
)
def test_failed_write_raises_and_leaves_no_file(tmp_path, kwargs, problem):
    args = {"kspace": _kspace(2, 4, 4), "acquisition": "AXT1", **kwargs}
    with pytest.raises(InputError, match=re.escape(problem)):
        write_fastmri_h5(tmp_path / "out.h5", **args)
    assert _listing(tmp_path) == []


def test_write_failing_midway_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):  # h5py cannot store a dict attribute: raised after the datasets are written
        write_fastmri_h5(tmp_path / "out.h5", _kspace(2, 4, 4), acquisition="AXT1", extra_attrs={"bad": {1: 2}})
    assert _listing(tmp_path) == []


def test_write_refuses_existing_and_input(volume):
    path, kspace, _, _ = volume
    before = path.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        write_fastmri_h5(path, kspace, acquisition="AXT2")
    with pytest.raises(InputError, match="refusing to overwrite an input"):
        write_fastmri_h5(path, kspace, acquisition="AXT2", inputs=[path], overwrite=True)
    assert path.read_bytes() == before
    write_fastmri_h5(path, kspace[:1], acquisition="AXT2", overwrite=True)
    assert read_fastmri_h5(path).kspace.shape == (1, COILS, H, W)

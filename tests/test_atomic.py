"""Atomic outputs: complete or absent, never over an input; NIfTI round trip through save_nifti."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from mri_monai.data.atomic import atomic_output, save_nifti
from mri_monai.errors import InputError

OBLIQUE = np.array(
    [
        [-0.9, 0.1, 0.0, 90.0],
        [0.05, 1.1, -0.2, -126.0],
        [0.0, 0.3, 2.5, -72.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_save_nifti_round_trip_with_affine(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.normal(size=(5, 6, 7)).astype(np.float32)
    out = save_nifti(array, OBLIQUE, tmp_path / "sub" / "img.nii.gz")
    img = nib.load(out)
    assert out == tmp_path / "sub" / "img.nii.gz"
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), array)
    np.testing.assert_allclose(img.affine, OBLIQUE, atol=1e-6)
    assert _listing(tmp_path / "sub") == ["img.nii.gz"]


@pytest.mark.parametrize(
    ("dtype", "stored"),
    [(np.float64, np.float32), (np.int16, np.int16), (np.int64, np.int64), (np.uint8, np.uint8), (bool, np.uint8)],
)
def test_save_nifti_dtypes(tmp_path, dtype, stored):
    array = (np.arange(2 * 3 * 4 * 2).reshape(2, 3, 4, 2) % 3).astype(dtype)
    img = nib.load(save_nifti(array, np.eye(4), tmp_path / "a.nii"))
    assert img.get_data_dtype() == stored
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), array.astype(stored))


def test_save_nifti_header_does_not_impose_its_dtype(tmp_path):
    source = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    array = np.full((3, 3, 3), 0.25, np.float32)
    img = nib.load(save_nifti(array, OBLIQUE, tmp_path / "b.nii.gz", header=source.header))
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), array)
    np.testing.assert_allclose(img.affine, OBLIQUE, atol=1e-6)


def test_save_nifti_rejects_bad_rank_and_affine(tmp_path):
    with pytest.raises(InputError, match="3D or 4D"):
        save_nifti(np.zeros((4, 4)), np.eye(4), tmp_path / "c.nii.gz")
    with pytest.raises(InputError, match="affine"):
        save_nifti(np.zeros((4, 4, 4)), np.full((4, 4), np.nan), tmp_path / "c.nii.gz")
    assert _listing(tmp_path) == []


def test_refuses_to_overwrite_an_input(tmp_path):
    source = tmp_path / "in.nii.gz"
    save_nifti(np.ones((2, 2, 2), np.float32), np.eye(4), source)
    before = source.read_bytes()
    link = tmp_path / "link.nii.gz"
    link.symlink_to(source)
    for target in (source, link, tmp_path / "." / "in.nii.gz"):
        with pytest.raises(InputError, match="refusing to overwrite an input") as err:
            save_nifti(np.zeros((2, 2, 2), np.float32), np.eye(4), target, inputs=[source])
        assert str(target) in str(err.value)
    assert source.read_bytes() == before
    assert _listing(tmp_path) == ["in.nii.gz", "link.nii.gz"]


def test_refuses_existing_output_without_overwrite(tmp_path):
    out = tmp_path / "out.nii"
    out.write_bytes(b"old")
    with pytest.raises(InputError, match="already exists"):
        save_nifti(np.zeros((2, 2, 2), np.float32), np.eye(4), out, overwrite=False)
    assert out.read_bytes() == b"old"
    save_nifti(np.zeros((2, 2, 2), np.float32), np.eye(4), out)
    assert nib.load(out).shape == (2, 2, 2)


def test_no_partial_file_when_the_writer_raises(tmp_path):
    out = tmp_path / "seg.nii.gz"
    out.write_bytes(b"previous complete file")
    seen = []
    with pytest.raises(RuntimeError, match="disk full"), atomic_output(out) as tmp:
        seen.append(tmp)
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("disk full")
    assert seen[0].parent == tmp_path and seen[0].name.endswith(".nii.gz") and seen[0].name.startswith(".")
    assert out.read_bytes() == b"previous complete file"
    assert _listing(tmp_path) == ["seg.nii.gz"]


def test_no_file_when_nibabel_fails(tmp_path):
    class Unsaveable(nib.Nifti1Image):
        def to_filename(self, *args, **kwargs):
            raise OSError("device error")

    with pytest.raises(OSError, match="device error"), atomic_output(tmp_path / "x.nii.gz") as tmp:
        nib.save(Unsaveable(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp)
    assert _listing(tmp_path) == []

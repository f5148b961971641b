"""The shared transforms around image-to-image networks: input checks and invertible percentile scaling.

Denoising scales by the 99.5th percentile, both super-resolution bundles by the 99th; a 2D slice becomes a one-slice
volume for the 3D super-resolution networks (``CheckImaged(as_volume=True)``); ``check_volumes`` checks every file
of a datalist before a run writes anything (the translation bundle).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Invertd

from mri_monai.data.transforms import CheckImaged, ScaleByPercentiled, check_volumes
from mri_monai.errors import InputError

AFFINE = np.array([[0.0, 0.0, 1.0, -30.0], [-1.0, 0.0, 0.0, 40.0], [0.0, 1.2, 0.0, -10.0], [0.0, 0.0, 0.0, 1.0]])


def _scan(array: torch.Tensor) -> MetaTensor:
    return MetaTensor(array, meta={"filename_or_obj": "scan.nii.gz"})


@pytest.mark.parametrize("percentile", [99.0, 99.5])
def test_percentile_scaling_round_trip(percentile):
    image = _scan(torch.rand(1, 20, 20, 4, generator=torch.Generator().manual_seed(0)) * 300)
    scale = ScaleByPercentiled(["image", "label"], ref_key="image", percentile=percentile)
    d = scale({"image": image, "label": image.clone() / 2})
    factor = float(np.percentile(image.numpy(), percentile))
    assert torch.equal(d["image"].as_tensor(), image.as_tensor() / factor)
    assert torch.equal(d["label"].as_tensor(), (image.as_tensor() / 2) / factor)  # the reference's factor
    d["pred"] = d["image"] * 1.0
    restored = Invertd(["pred", "label"], transform=scale, orig_keys=["image", "label"])(d)
    np.testing.assert_allclose(restored["pred"].numpy(), image.numpy(), rtol=1e-6)
    np.testing.assert_allclose(restored["label"].numpy(), image.numpy() / 2, rtol=1e-6)
    inverse = scale.inverse({"image": d["image"], "label": d["label"]})  # the transform's own inverse
    np.testing.assert_allclose(inverse["image"].numpy(), image.numpy(), rtol=1e-6)
    np.testing.assert_allclose(inverse["label"].numpy(), image.numpy() / 2, rtol=1e-6)


def test_percentile_scaling_without_a_reference_scales_each_image_by_its_own():
    a, b = _scan(torch.arange(1.0, 101.0)[None]), _scan(torch.arange(1.0, 101.0)[None] * 4)
    d = ScaleByPercentiled(["a", "b"], ref_key=None, percentile=50)({"a": a, "b": b})
    assert torch.equal(d["a"].as_tensor(), d["b"].as_tensor())  # each divided by its own median: 50.5 and 202


@pytest.mark.parametrize("array", [torch.zeros(1, 8, 8, 8), -torch.rand(1, 8, 8, 8)])
def test_percentile_scaling_refuses_an_image_without_signal(array):
    with pytest.raises(InputError, match=r"^scan\.nii\.gz: cannot normalise: 99th percentile is") as err:
        ScaleByPercentiled("image", percentile=99.0)({"image": _scan(array)})
    assert "(must be > 0)" in str(err.value)
    with pytest.raises(ValueError, match="percentile must be in"):
        ScaleByPercentiled("image", percentile=101)


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (torch.zeros(1, 8, 8, 8), "image is empty: every voxel equals 0"),
        (torch.full((1, 8, 8, 8), 7.0), "every voxel equals 7"),
        (torch.zeros(1, 8, 0, 8), r"image is empty \(shape \(1, 8, 0, 8\)\)"),
        (torch.rand(3, 8, 8, 8), r"expected 1 channel\(s\), got 3"),
        (torch.rand(1, 8), "expected a 2D or 3D image, got 1 spatial dimensions"),
        (torch.rand(1, 4, 4, 4, 4), "expected a 2D or 3D image, got 4 spatial dimensions"),
        (torch.full((1, 8, 8, 8), float("nan")), "image contains 512 NaN or infinite value"),
        (torch.tensor([[[1.0, float("inf")], [0.0, float("-inf")]]]), "image contains 2 NaN or infinite value"),
    ],
)
@pytest.mark.parametrize("as_volume", [False, True])
def test_check_image_refuses_naming_the_file(array, problem, as_volume):
    with pytest.raises(InputError, match=problem) as err:
        CheckImaged("image", as_volume=as_volume)({"image": _scan(array)})
    assert str(err.value).startswith("scan.nii.gz: ")


def test_check_image_names_the_key_without_a_file():
    with pytest.raises(InputError, match=r"^<moving>: image is empty"):
        CheckImaged("moving")({"moving": torch.zeros(1, 4, 4)})


def test_check_image_makes_a_slice_a_one_slice_volume():
    slice_2d = MetaTensor(torch.rand(1, 6, 5), affine=torch.as_tensor(AFFINE))
    out = CheckImaged("image", as_volume=True)({"image": slice_2d})["image"]
    assert out.shape == (1, 6, 5, 1) and np.allclose(out.affine.numpy(), AFFINE)
    assert torch.equal(out.as_tensor()[..., 0], slice_2d.as_tensor())
    assert CheckImaged("image")({"image": slice_2d})["image"].shape == (1, 6, 5)  # unchanged without as_volume
    volume = MetaTensor(torch.rand(1, 6, 5, 4), affine=torch.as_tensor(AFFINE))
    assert CheckImaged("image", as_volume=True)({"image": volume})["image"] is volume
    with pytest.raises(InputError, match="expected a 3D image, got 2 spatial dimensions"):
        CheckImaged("image", spatial_dims=[3], as_volume=True)({"image": slice_2d})


def _nifti(path, array) -> str:
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32), np.eye(4)), str(path))
    return str(path)


def _volume(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).random(shape)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    array[index] = value
    return array


def test_check_volumes_accepts_single_contrast_volumes_and_optional_keys(tmp_path):
    volume = _nifti(tmp_path / "volume.nii.gz", _volume(8, 8, 4))
    one_channel = _nifti(tmp_path / "one_channel.nii.gz", _volume(8, 8, 4, 1))  # (X, Y, Z, 1) is one volume
    entries = [{"t1w": volume, "t2w": one_channel}, {"t1w": one_channel}]
    check_volumes(entries, ["t1w"], optional_keys=["t2w"])  # the second entry has no reference: fine
    with pytest.raises(InputError, match=r"lacks key 't2w'"):
        check_volumes(entries, ["t1w", "t2w"])


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("two.nii.gz", _volume(8, 8, 4, 2), r"expected 1 channel\(s\), got 2 .*several volumes"),
        ("flat.nii.gz", _volume(8, 8), "expected a 3D image, got 2 spatial dimensions"),
        ("five_d.nii.gz", _volume(8, 8, 4, 1, 2), "expected a 3D image, got 4 spatial dimensions"),
        ("nan.nii.gz", _with(_volume(8, 8, 4), (0, 0, 0), np.nan), "1 NaN or infinite value"),
        ("inf.nii.gz", _with(_volume(8, 8, 4), (1, 2, 3), -np.inf), "1 NaN or infinite value"),
        ("zeros.nii.gz", np.zeros((8, 8, 4)), "image is empty: every voxel equals 0"),
        ("broken.nii.gz", b"not a nifti", "not a readable NIfTI image"),
        ("notes.txt", b"a scan", r"not a NIfTI \(.nii, .nii.gz\) or DICOM"),
        ("absent.nii.gz", None, "file does not exist"),
    ],
)
@pytest.mark.parametrize("optional", [False, True])
def test_check_volumes_refuses_naming_the_file(tmp_path, name, content, problem, optional):
    good = _nifti(tmp_path / "good.nii.gz", _volume(8, 8, 4))
    bad = tmp_path / name
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        _nifti(bad, content)
    entries = [{"t1w": good}, {"t1w": good, "t2w": str(bad)}] if optional else [{"t1w": good}, {"t1w": str(bad)}]
    with pytest.raises(InputError, match=problem) as err:
        check_volumes(entries, ["t1w"], optional_keys=["t2w"])
    assert str(err.value).startswith(f"{bad}: ")


def test_check_volumes_refuses_an_empty_list_and_a_missing_key(tmp_path):
    with pytest.raises(InputError, match=r"^<datalist>: no cases to process"):
        check_volumes([], ["t1w"])
    good = _nifti(tmp_path / "good.nii.gz", _volume(8, 8, 4))
    with pytest.raises(InputError, match=r"datalist item lacks key 't1w'") as err:
        check_volumes([{"t1w": good}, {"t2w": good}], ["t1w"])
    assert str(err.value).startswith(str({"t2w": good}))

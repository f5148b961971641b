"""DICOM and NIfTI readers: geometry, values and bad inputs, directly and inside MONAI's LoadImage(d)."""

from __future__ import annotations

import copy
import re

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.data import NibabelReader
from monai.transforms import LoadImage, LoadImaged
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import EnhancedMRImageStorage, generate_uid

from mri_monai.data.readers import DicomReader, NiftiOrDicomReader, ValidatedNibabelReader
from mri_monai.errors import InputError

MR_SMALL = get_testdata_file("MR_small.dcm")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# an oblique plane: row and column direction cosines, their normal, non-square pixels and a 2.5 mm slice step
ROW, COL = np.array([0.8, 0.6, 0.0]), np.array([-0.36, 0.48, -0.8])
NORMAL = np.cross(ROW, COL)
PIXEL_SPACING = (0.5, 0.3125)  # (between rows, between columns)
STEP, ORIGIN = 2.5, np.array([-20.0, 10.0, 35.0])


def _slice(k: int) -> Dataset:
    """Slice ``k`` of a 3-slice oblique series made from MR_small: own position, pixels and rescale slope."""
    ds = pydicom.dcmread(MR_SMALL)
    ds.ImageOrientationPatient = [*ROW, *COL]
    ds.ImagePositionPatient = list(ORIGIN + k * STEP * NORMAL)
    ds.PixelSpacing = list(PIXEL_SPACING)
    ds.RescaleSlope, ds.RescaleIntercept = 1.5 + 0.5 * k, -5.0
    ds.PixelData = (ds.pixel_array + 100 * k).astype(np.int16).tobytes()
    ds.InstanceNumber = (2, 3, 1)[k]  # interleaved numbering: InstanceNumber order is not position order
    ds.SOPInstanceUID = generate_uid()
    return ds


def _expected_slice(k: int) -> np.ndarray:
    raw = pydicom.dcmread(MR_SMALL).pixel_array.astype(np.float64) + 100 * k
    return (raw * (1.5 + 0.5 * k) - 5.0).T  # (columns, rows)


def _expected_affine() -> np.ndarray:
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1] = ROW * PIXEL_SPACING[1], COL * PIXEL_SPACING[0]
    lps[:3, 2], lps[:3, 3] = NORMAL * STEP, ORIGIN
    return LPS_TO_RAS @ lps


@pytest.fixture
def series_dir(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    for name, k in zip(("a.dcm", "b.dcm", "c.dcm"), (2, 0, 1), strict=True):  # file order is not position order
        _slice(k).save_as(folder / name)
    (folder / "notes.txt").write_text("not DICOM, ignored")
    return folder


def test_single_file_shape_spacing_and_values():
    ds = pydicom.dcmread(MR_SMALL)
    ds_array, meta = DicomReader().get_data(DicomReader().read(MR_SMALL))
    assert ds_array.shape == (ds.Columns, ds.Rows) == (64, 64)
    np.testing.assert_array_equal(ds_array, ds.pixel_array.T)  # no rescale tags: stored values
    np.testing.assert_allclose(meta["spacing"], [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0])])
    np.testing.assert_allclose(meta["affine"][:3, 3], [83.9063, 91.2, 6.6406])  # ImagePositionPatient in RAS
    assert meta["EchoTime"] == 240.0 and meta["Modality"] == "MR"


def test_single_file_rescaled(tmp_path):
    ds = pydicom.dcmread(MR_SMALL)
    ds.RescaleSlope, ds.RescaleIntercept = 2.5, -10.0
    ds.save_as(tmp_path / "r.dcm")
    image = LoadImage(reader=DicomReader, image_only=True, ensure_channel_first=True)(tmp_path / "r.dcm")
    assert image.shape == (1, 64, 64)
    np.testing.assert_allclose(image[0].numpy(), (ds.pixel_array * 2.5 - 10.0).T)


def test_series_sorted_along_the_normal(series_dir):
    data = LoadImaged("image", reader=DicomReader, ensure_channel_first=True)({"image": str(series_dir)})
    image = data["image"]
    assert image.shape == (1, 64, 64, 3)
    for k in range(3):
        np.testing.assert_allclose(image[0, :, :, k].numpy(), _expected_slice(k), rtol=1e-6)
    np.testing.assert_allclose(image.affine.numpy(), _expected_affine(), atol=1e-4)
    np.testing.assert_allclose(image.meta["spacing"], [0.3125, 0.5, 2.5], atol=1e-4)
    assert image.meta["filename_or_obj"] == str(series_dir)


def test_series_affine_in_lps(series_dir):
    image, meta = DicomReader(affine_lps_to_ras=False).get_data(DicomReader().read(series_dir))
    np.testing.assert_allclose(meta["affine"], LPS_TO_RAS @ _expected_affine(), atol=1e-4)
    assert meta["space"] == "LPS"


def _enhanced(frame_order: tuple[int, ...]) -> Dataset:
    """An enhanced (multi-frame) MR file holding the slices in ``frame_order``, geometry in functional groups."""
    slices = [_slice(k) for k in frame_order]
    ds = copy.deepcopy(slices[0])
    for keyword in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "SliceThickness"):
        delattr(ds, keyword)
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    ds.NumberOfFrames = len(slices)
    ds.PixelData = b"".join(s.PixelData for s in slices)
    shared = Dataset()
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].PixelSpacing = list(PIXEL_SPACING)
    shared.PixelMeasuresSequence[0].SliceThickness = STEP
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = [*ROW, *COL]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = []
    for s in slices:
        frame = Dataset()
        frame.PlanePositionSequence = [Dataset()]
        frame.PlanePositionSequence[0].ImagePositionPatient = s.ImagePositionPatient
        frame.PixelValueTransformationSequence = [Dataset()]
        frame.PixelValueTransformationSequence[0].RescaleSlope = s.RescaleSlope
        frame.PixelValueTransformationSequence[0].RescaleIntercept = s.RescaleIntercept
        ds.PerFrameFunctionalGroupsSequence.append(frame)
    return ds


def test_enhanced_multiframe_file(tmp_path):
    _enhanced((1, 2, 0)).save_as(tmp_path / "enhanced.dcm")
    array, meta = DicomReader().get_data(DicomReader().read(tmp_path / "enhanced.dcm"))
    assert array.shape == (64, 64, 3)
    for k in range(3):  # per-frame slopes applied, frames sorted by their per-frame positions
        np.testing.assert_allclose(array[:, :, k], _expected_slice(k), rtol=1e-6)
    np.testing.assert_allclose(meta["affine"], _expected_affine(), atol=1e-4)


def _no_pixels(path):
    ds = pydicom.dcmread(MR_SMALL)
    del ds.PixelData
    ds.save_as(path / "x.dcm")
    return path / "x.dcm"


def _mixed(path, change):
    path.mkdir()
    for k in range(2):
        ds = _slice(k)
        if k:
            change(ds)
        ds.save_as(path / f"{k}.dcm")
    return path


def _cropped(ds):
    pixels = ds.pixel_array[:32, :32].tobytes()
    ds.Rows = ds.Columns = 32
    ds.PixelData = pixels


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: (p / "x.dcm").write_text("plain text") and p / "x.dcm", "not a DICOM file"),
        (_no_pixels, "no pixel data"),
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "e").mkdir() or p / "e", "folder is empty"),
        (lambda p: (p / "t").mkdir() or (p / "t" / "a.txt").write_text("x") and p / "t", "holds no DICOM file"),
        (lambda p: _mixed(p / "m", lambda ds: setattr(ds, "SeriesInstanceUID", generate_uid())), "SeriesInstanceUID"),
        (lambda p: _mixed(p / "s", _cropped), "slices of different shapes"),
        (lambda p: _mixed(p / "d", lambda ds: setattr(ds, "ImagePositionPatient", list(ORIGIN))), "2 slices at 1 pos"),
    ],
)
def test_bad_dicom_raises_input_error_naming_it(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(InputError, match=re.escape(problem)) as err:  # not swallowed by LoadImage's fallback
        LoadImaged("image", reader=DicomReader)({"image": str(path)})
    assert str(err.value).startswith(str(path))


def test_truncated_dicom_names_the_file():
    truncated = get_testdata_file("MR_truncated.dcm")
    with pytest.raises(InputError, match="pixel data cannot be decoded") as err:
        DicomReader().get_data(DicomReader().read(truncated))
    assert str(err.value).startswith(truncated)


def test_nibabel_reader_matches_monai(tmp_path):
    array = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)
    affine = np.diag([1.5, 2.0, 2.5, 1.0])
    nib.save(nib.Nifti1Image(array, affine), tmp_path / "a.nii.gz")
    ours = LoadImage(reader=ValidatedNibabelReader, image_only=True)(tmp_path / "a.nii.gz")
    monai = LoadImage(reader=NibabelReader, image_only=True)(tmp_path / "a.nii.gz")
    np.testing.assert_array_equal(ours.numpy(), array)
    np.testing.assert_array_equal(ours.affine.numpy(), monai.affine.numpy())


NOISE = np.random.default_rng(1).normal(size=(16, 16, 16)).astype(np.float32)  # incompressible: header survives


def _nifti(path, array):
    nib.save(nib.Nifti1Image(array, np.eye(4)), path)
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: _truncate(_nifti(p / "t.nii.gz", NOISE)), "image data cannot be read"),
        (lambda p: _truncate(_nifti(p / "t.nii", NOISE)), "image data cannot be read"),
        (lambda p: (p / "n.nii.gz").write_text("not nifti") and p / "n.nii.gz", "not a readable NIfTI"),
        (lambda p: _nifti(p / "nan.nii", np.array([[[np.nan, 1.0], [np.inf, 0.0]]], np.float32)), "2 NaN or inf"),
        (lambda p: _nifti(p / "z.nii", np.zeros((0, 4, 4), np.float32)), "image is empty (shape (0, 4, 4))"),
        (lambda p: p / "missing.nii.gz", "does not exist"),
    ],
)
def test_bad_nifti_raises_input_error_naming_it(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(InputError, match=re.escape(problem)) as err:
        LoadImaged("image", reader=ValidatedNibabelReader)({"image": str(path)})
    assert str(err.value).startswith(str(path))


NEITHER = "not a NIfTI (.nii, .nii.gz) or DICOM (.dcm, DICOM folder) image"


def test_nifti_or_dicom_reader_reads_each_kind_as_its_own_reader(tmp_path, series_dir):
    """LoadImaged with NiftiOrDicomReader, the project's one way to load a NIfTI or DICOM volume, gives what the
    NIfTI and DICOM readers give: the same arrays, affines and file names."""
    nifti = _nifti(tmp_path / "a.nii.gz", NOISE)
    load = LoadImaged("image", reader=NiftiOrDicomReader, image_only=True)
    for path, reader in ((nifti, ValidatedNibabelReader), (MR_SMALL, DicomReader), (series_dir, DicomReader)):
        ours = load({"image": str(path)})["image"]
        own = LoadImage(reader=reader, image_only=True)(str(path))
        assert ours.dtype == own.dtype == torch.float32
        np.testing.assert_array_equal(ours.numpy(), own.numpy())
        np.testing.assert_array_equal(ours.affine.numpy(), own.affine.numpy())
        assert ours.meta["filename_or_obj"] == str(path)
    np.testing.assert_array_equal(load({"image": str(nifti)})["image"].numpy(), NOISE)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: (p / "notes.txt").write_text("plain text") and p / "notes.txt", NEITHER),
        (lambda p: (p / "scan.mha").write_bytes(b"\0" * 200) and p / "scan.mha", NEITHER),
        (lambda p: (p / "x.dcm").write_text("plain text") and p / "x.dcm", "not a DICOM file"),
        (lambda p: (p / "n.nii.gz").write_text("not nifti") and p / "n.nii.gz", "not a readable NIfTI"),
        (lambda p: _nifti(p / "nan.nii", np.array([[[np.nan, 1.0], [np.inf, 0.0]]], np.float32)), "2 NaN or inf"),
        (lambda p: p / "missing.nii.gz", "does not exist"),
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "e").mkdir() or p / "e", "folder is empty"),
    ],
)
def test_nifti_or_dicom_reader_raises_input_error_naming_the_file(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(InputError, match=re.escape(problem)) as err:  # not swallowed by LoadImage's fallback
        LoadImaged("image", reader=NiftiOrDicomReader, image_only=True)({"image": str(path)})
    assert str(err.value).startswith(f"{path}: ")

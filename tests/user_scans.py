"""Folders of "a user's own scans" for the tests: fastMRI HDF5, NIfTI, DICOM series and BraTS case folders.

None of them carries the project's ``synthetic`` mark or a datalist: they stand for files a user brings. The
volumes are small smooth random images (a few seconds per bundle on a CPU), with non-identity affines so that tests
can check that outputs keep the input's geometry.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from scipy.ndimage import gaussian_filter

from mri_monai.data.fastmri_h5 import write_fastmri_h5

#: (X, Y, Z) of the NIfTI and DICOM volumes
SHAPE = (40, 48, 32)
#: voxel size (mm) of the NIfTI volumes
SPACING = (1.5, 1.5, 2.0)
#: (slices, coils, H, W) of the multi-coil fastMRI files
KSPACE_SHAPE = (2, 4, 32, 24)


def head(seed: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """A smooth positive float32 "head" of ``shape``: an ellipsoid of random texture on a zero background."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    inside = sum(g**2 for g in grid) < 0.8
    texture = gaussian_filter(rng.random(shape), 2.0)
    return (inside * (100 + 400 * (texture - texture.min()) / np.ptp(texture))).astype(np.float32)


def affine(shift: float = 0.0) -> np.ndarray:
    """A (4, 4) RAS affine with :data:`SPACING` and an off-centre origin."""
    out = np.diag([*SPACING, 1.0])
    out[:3, 3] = (-30.0 + shift, -36.0, -20.0)
    return out


def write_nifti(path: Path, array: np.ndarray, shift: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine(shift)), path)
    return path


def fastmri_file(path: Path, multicoil: bool = True) -> Path:
    """A fastMRI test-set-like file: undersampled k-space, the stored mask, no reference."""
    rng = np.random.default_rng(1)
    slices, coils, h, w = KSPACE_SHAPE
    mask = np.zeros(w, dtype=bool)
    mask[::3] = True
    mask[w // 2 - 2 : w // 2 + 2] = True
    image = np.stack([head(s, (h, w, 3))[..., 1] for s in range(slices)])
    sensitivity = 1 + 0.2 * rng.standard_normal((1, coils, 1, 1))
    kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image[:, None] * sensitivity, axes=(-2, -1)), norm="ortho"))
    kspace = (kspace * mask).astype(np.complex64)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_fastmri_h5(path, kspace if multicoil else kspace[:, 0], mask=mask, acquisition="AXT2")


def nifti_folder(folder: Path, count: int = 2) -> list[Path]:
    """``count`` single-contrast 3D NIfTI volumes ``scan_<k>.nii.gz``."""
    return [write_nifti(folder / f"scan_{k}.nii.gz", head(k), shift=2.0 * k) for k in range(count)]


def dicom_series(folder: Path, seed: int = 5) -> Path:
    """One axial DICOM series (one file per slice, no suffix, with the DICOM preamble) in ``folder``."""
    volume = np.round(head(seed)).astype(np.uint16)
    series, study = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(volume.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"IM{z:04d}"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "MR", series, study
        ds.InstanceNumber = z + 1
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.PixelSpacing = [1.5, 1.5]
        ds.SliceThickness = 2.0
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * z]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(volume[:, :, z].T).tobytes()  # (rows, columns)
        pydicom.dcmwrite(folder / f"IM{z:04d}", ds, enforce_file_format=True)
    return folder


def brats_folder(folder: Path) -> list[Path]:
    """One BraTS case folder ``CASE_000/CASE_000_{t1,t1ce,t2,flair}.nii.gz`` and one 4-contrast NIfTI."""
    case = folder / "CASE_000"
    for k, contrast in enumerate(("t1", "t1ce", "t2", "flair")):
        write_nifti(case / f"CASE_000_{contrast}.nii.gz", head(10 + k))
    stacked = np.stack([head(20 + k) for k in range(4)], axis=-1)
    return [case, write_nifti(folder / "CASE_001.nii.gz", stacked)]

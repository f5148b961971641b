"""MONAI image readers for fastMRI HDF5, DICOM and NIfTI that fail with :class:`~mri_monai.errors.InputError`.

Each reader follows MONAI's :class:`~monai.data.ImageReader` API (``verify_suffix``, ``read``, ``get_data``), so it
can be given to ``LoadImage(d)(reader=...)`` as a class, an instance or a dotted name
(``"mri_monai.data.readers.DicomReader"``), or in a bundle config as
``{"_target_": "mri_monai.data.readers.DicomReader"}``.

``read`` only records the file names and all reading and checking happens in ``get_data``: ``LoadImage`` catches
any exception raised by a user-given reader's ``read`` and silently tries its built-in readers instead, which
would replace our :class:`~mri_monai.errors.InputError` by an unrelated error, or read a file we reject.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
from monai.config import PathLike
from monai.data import ImageReader, NibabelReader
from monai.data.image_reader import is_dicom_path
from monai.data.utils import is_supported_format, orientation_ras_lps
from monai.utils import FastMRIKeys, ImageMetaKey, MetaKeys, SpaceKeys, ensure_tuple
from pydicom.dataset import Dataset

from mri_monai.data.fastmri_h5 import read_fastmri_h5
from mri_monai.errors import InputError, check_finite

__all__ = [
    "DICOM_META_KEYWORDS",
    "DicomReader",
    "FastMRIH5Reader",
    "NiftiOrDicomReader",
    "PendingRead",
    "ValidatedNibabelReader",
]

_NO_CHANNEL = float("nan")  # MONAI's in-meta spelling of "no_channel", which collates with integers
#: top-level DICOM attributes copied into the meta dict when present.
DICOM_META_KEYWORDS = (
    "Modality",
    "SeriesInstanceUID",
    "SeriesDescription",
    "MagneticFieldStrength",
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "FlipAngle",
)


@dataclass(frozen=True)
class PendingRead:
    """What ``read`` returns: the files to read in ``get_data``, and keyword arguments for the underlying loader.

    Attributes:
        names: the file (or folder) names given to ``read``.
        kwargs: keyword arguments given to ``read``.
    """

    names: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def single(self, reader: ImageReader) -> str:
        """The one file name, for readers that read one file (or DICOM folder) at a time."""
        if len(self.names) != 1:
            raise InputError(", ".join(self.names), f"{type(reader).__name__} reads one file (or folder) at a time")
        return self.names[0]


def _pending(data: Sequence[PathLike] | PathLike, kwargs: dict[str, Any]) -> PendingRead:
    return PendingRead(tuple(str(name) for name in ensure_tuple(data)), kwargs)


class FastMRIH5Reader(ImageReader):
    """Read a fastMRI HDF5 volume (``.h5``) as its complex64 k-space, with the target and mask in the meta dict.

    It reads through :func:`~mri_monai.data.fastmri_h5.read_fastmri_h5`, so bad files raise
    :class:`~mri_monai.errors.InputError`; unlike :class:`monai.apps.reconstruction.fastmri_reader.FastMRIReader`
    it keeps the mask as stored ((W,)) and sets the channel dimension (the coils) for ``ensure_channel_first``.

    Array: (slices, coils, H, W) multi-coil or (slices, H, W) single-coil, complex64.
    Meta keys: ``filename_or_obj``; ``spatial_shape`` (slices, H, W); identity ``affine``/``original_affine``;
    ``original_channel_dim`` (1 multi-coil, ``nan`` = "no_channel" single-coil); ``reconstruction_rss``: float32
    (slices, H', W') target (``reconstruction_rss`` or ``reconstruction_esc`` in the file, under MONAI's
    ``FastMRIKeys.RECON`` key); ``mask`` ((W,)); ``recon_size`` (H', W') from the ISMRMRD header; and the file's
    attributes (``max``, ``norm``, ``acquisition``, ``patient_id``...). Keys the file lacks are absent.

    Note:
        ``LoadImage`` casts to ``float32`` by default, which drops the imaginary part: pass ``dtype=None`` or
        ``dtype=np.complex64``.

    Example::

        load = LoadImaged("kspace", reader=FastMRIH5Reader, dtype=np.complex64, ensure_channel_first=True)
        kspace = load({"kspace": "sub-000.h5"})["kspace"]  # (coils, slices, H, W)
    """

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether all ``filename`` end in ``.h5``."""
        return is_supported_format(filename, ["h5"])

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> PendingRead:
        """Record the file to read (a sequence must hold exactly one); ``get_data`` reads it."""
        return _pending(data, kwargs)

    def get_data(self, img: PendingRead) -> tuple[np.ndarray, dict]:
        """Read the file; return the k-space and the meta dict described in the class docstring."""
        vol = read_fastmri_h5(img.single(self))
        slices, *_, h, w = vol.kspace.shape
        meta: dict[str, Any] = dict(vol.attrs)
        meta.update(
            {
                ImageMetaKey.FILENAME_OR_OBJ: str(vol.path),
                MetaKeys.SPATIAL_SHAPE: np.asarray((slices, h, w)),
                MetaKeys.AFFINE: np.eye(4),
                MetaKeys.ORIGINAL_AFFINE: np.eye(4),
                MetaKeys.ORIGINAL_CHANNEL_DIM: 1 if vol.multicoil else _NO_CHANNEL,
            }
        )
        if vol.reconstruction is not None:
            meta[str(FastMRIKeys.RECON)] = vol.reconstruction
        if vol.mask is not None:
            meta[str(FastMRIKeys.MASK)] = vol.mask
        if vol.recon_size is not None:
            meta["recon_size"] = np.asarray(vol.recon_size)
        return vol.kspace, meta


@dataclass
class _DicomSeries:
    """The DICOM datasets of one image, a file (single- or multi-frame) or a folder holding one series."""

    source: str
    datasets: list[Dataset]
    filenames: list[str]


def _dcmread(filename: str) -> Dataset:
    try:
        return pydicom.dcmread(filename)
    except pydicom.errors.InvalidDicomError:
        raise InputError(filename, "not a DICOM file") from None
    except (OSError, EOFError, ValueError) as e:
        raise InputError(filename, f"unreadable DICOM file ({e})") from None


def _read_folder(folder: Path) -> _DicomSeries:
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".") and f.name != "DICOMDIR")
    if not files:
        raise InputError(folder, "folder is empty (no files)")
    datasets, names = [], []
    for f in files:
        try:
            datasets.append(pydicom.dcmread(f))
            names.append(str(f))
        except pydicom.errors.InvalidDicomError:
            continue  # other files (notes, thumbnails) may sit next to a series
        except (OSError, EOFError, ValueError) as e:
            raise InputError(f, f"unreadable DICOM file ({e})") from None
    if not datasets:
        raise InputError(folder, f"folder holds no DICOM file ({len(files)} other file(s))")
    return _DicomSeries(str(folder), datasets, names)


def _read_series(path: Path) -> _DicomSeries:
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise InputError(path, "file or folder does not exist")
    return _DicomSeries(str(path), [_dcmread(str(path))], [str(path)])


def _frame_value(ds: Dataset, frame: int, sequence: str, keyword: str) -> Any:
    """``keyword`` for one frame: per-frame functional group, then shared functional group, then top level."""
    groups = []
    if "PerFrameFunctionalGroupsSequence" in ds:
        groups.append(ds.PerFrameFunctionalGroupsSequence[frame])
    if "SharedFunctionalGroupsSequence" in ds:
        groups.append(ds.SharedFunctionalGroupsSequence[0])
    for group in groups:
        items = group.get(sequence)
        if items and keyword in items[0]:
            return items[0].get(keyword)
    return ds.get(keyword)


@dataclass
class _Frame:
    pixels: np.ndarray  # (rows, columns), rescaled
    position: np.ndarray | None  # ImagePositionPatient, LPS mm
    orientation: np.ndarray | None  # ImageOrientationPatient: row then column direction cosines
    pixel_spacing: np.ndarray  # (between rows, between columns) mm
    slice_step: float  # SpacingBetweenSlices, else SliceThickness, else 1 mm: used without positions


def _frames(ds: Dataset, filename: str) -> list[_Frame]:
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise InputError(filename, "DICOM file has no pixel data")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(filename, f"colour DICOM images are not supported (SamplesPerPixel={ds.SamplesPerPixel})")
    try:
        pixels = ds.pixel_array
    except Exception as e:  # pydicom raises many types for truncated or undecodable pixel data
        raise InputError(filename, f"pixel data cannot be decoded ({e})") from None
    n_frames, rows, columns = int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns)
    if pixels.size != n_frames * rows * columns:
        problem = f"pixel data holds {pixels.size} values, not {n_frames} frame(s) of {rows} x {columns}"
        raise InputError(filename, problem)
    pixels = pixels.reshape(n_frames, rows, columns)
    frames = []
    for f in range(n_frames):
        slope = _frame_value(ds, f, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _frame_value(ds, f, "PixelValueTransformationSequence", "RescaleIntercept")
        data = pixels[f]
        if slope is not None or intercept is not None:
            data = data.astype(np.float32) * np.float32(1.0 if slope is None else slope)
            data += np.float32(0.0 if intercept is None else intercept)
        position = _frame_value(ds, f, "PlanePositionSequence", "ImagePositionPatient")
        orientation = _frame_value(ds, f, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = _frame_value(ds, f, "PixelMeasuresSequence", "PixelSpacing")
        step = _frame_value(ds, f, "PixelMeasuresSequence", "SpacingBetweenSlices") or _frame_value(
            ds, f, "PixelMeasuresSequence", "SliceThickness"
        )
        frames.append(
            _Frame(
                pixels=data,
                position=None if position is None else np.asarray(position, dtype=np.float64),
                orientation=None if orientation is None else np.asarray(orientation, dtype=np.float64),
                pixel_spacing=np.asarray(spacing if spacing else (1.0, 1.0), dtype=np.float64),
                slice_step=float(step or 1.0),
            )
        )
    return frames


def _check_one_series(series: _DicomSeries, frames: list[_Frame]) -> None:
    uids = {str(ds.get("SeriesInstanceUID", "")) for ds in series.datasets}
    if len(uids) > 1:
        raise InputError(series.source, f"mixed series: {len(uids)} different SeriesInstanceUIDs")
    shapes = {f.pixels.shape for f in frames}
    if len(shapes) > 1:
        raise InputError(series.source, f"mixed series: slices of different shapes {sorted(shapes)}")
    if any(not np.allclose(f.pixel_spacing, frames[0].pixel_spacing, rtol=1e-3) for f in frames):
        raise InputError(series.source, "mixed series: slices with different PixelSpacing")
    orientations = [f.orientation for f in frames if f.orientation is not None]
    if any(not np.allclose(o, orientations[0], atol=1e-4) for o in orientations):
        raise InputError(series.source, "mixed series: slices with different ImageOrientationPatient")


def _stack(series: _DicomSeries, frames: list[_Frame]) -> tuple[np.ndarray, np.ndarray]:
    """Sort the frames along the slice normal; return the (n, rows, columns) stack and its LPS affine.

    The affine maps (column, row, slice) voxel indices, the order of the array MONAI's readers return.
    """
    first = frames[0]
    has_geometry = all(f.position is not None and f.orientation is not None for f in frames)
    if has_geometry:
        row_cos, col_cos = first.orientation[:3], first.orientation[3:]
    else:
        warnings.warn(
            f"{series.source}: ImagePositionPatient/ImageOrientationPatient missing; "
            "identity orientation and file/frame order used",
            stacklevel=3,
        )
        row_cos, col_cos = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    normal = np.cross(row_cos, col_cos)
    if has_geometry:
        frames = sorted(frames, key=lambda f: float(f.position @ normal))
        positions = np.stack([f.position for f in frames])
    else:
        positions = np.outer(np.arange(len(frames)) * first.slice_step, normal)
    affine = np.eye(4)
    affine[:3, 0] = row_cos * first.pixel_spacing[1]
    affine[:3, 1] = col_cos * first.pixel_spacing[0]
    affine[:3, 3] = positions[0]
    if len(frames) > 1:
        depth = positions @ normal
        gaps = np.diff(depth)
        if gaps.min() < 1e-3:
            raise InputError(
                series.source,
                f"{len(frames)} slices at {len(np.unique(np.round(depth, 3)))} positions: "
                "several echoes, time points or series mixed; split them first",
            )
        if gaps.max() - gaps.min() > max(1e-3, 0.01 * gaps.mean()):
            raise InputError(
                series.source, f"uneven slice spacing ({gaps.min():g} to {gaps.max():g} mm): missing slices?"
            )
        affine[:3, 2] = (positions[-1] - positions[0]) / (len(frames) - 1)
    else:
        affine[:3, 2] = normal * first.slice_step
    return np.stack([f.pixels for f in frames]), affine


def _tag_value(value: Any) -> Any:
    if isinstance(value, (int, float)):  # pydicom's DS/IS are subclasses
        return float(value) if isinstance(value, float) else int(value)
    return str(value)


class DicomReader(ImageReader):
    """Read a DICOM image: a single file, a multi-frame (enhanced) file, or a folder holding one series.

    Compared with :class:`monai.data.PydicomReader`, slices are sorted by their position along the slice normal
    (not by InstanceNumber), the slice step comes from ImagePositionPatient in 3D (not from z alone), per-frame
    geometry and rescaling of enhanced multi-frame files are used, and mixed or broken inputs raise
    :class:`~mri_monai.errors.InputError`.

    Array: (columns, rows) for one single-frame file, else (columns, rows, slices), the axis order of MONAI's
    readers; RescaleSlope/RescaleIntercept applied (float32) when present, else the stored integers.
    Meta keys: ``affine``/``original_affine`` (4, 4) in RAS (default) or LPS mm, ``spacing``, ``spatial_shape``,
    ``original_channel_dim`` (``nan`` = "no_channel"), ``space``, ``filename_or_obj``, and the attributes in
    ``DICOM_META_KEYWORDS`` that the (first) file holds.

    Args:
        affine_lps_to_ras: return the affine in RAS like ``NibabelReader``/``ITKReader`` (``True``) or in
            DICOM's LPS.

    Example::

        image = LoadImage(reader=DicomReader, image_only=True)("series_folder")  # MetaTensor (X, Y, Z)
    """

    def __init__(self, affine_lps_to_ras: bool = True) -> None:
        super().__init__()
        self.affine_lps_to_ras = affine_lps_to_ras

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether ``filename`` is a folder, a ``.dcm`` file or a file with the DICOM preamble."""
        return is_dicom_path(filename)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> PendingRead:
        """Record the DICOM file or series folder to read (a sequence must hold one); ``get_data`` reads it."""
        return _pending(data, kwargs)

    def get_data(self, img: PendingRead) -> tuple[np.ndarray, dict]:
        """Read the file or folder; return the image and the meta dict described in the class docstring."""
        series = _read_series(Path(img.single(self)))
        frames = [f for ds, name in zip(series.datasets, series.filenames, strict=True) for f in _frames(ds, name)]
        _check_one_series(series, frames)
        stack, affine = _stack(series, frames)
        array = np.ascontiguousarray(stack.transpose(2, 1, 0))  # (slices, rows, cols) -> (cols, rows, slices)
        if len(frames) == 1 and "NumberOfFrames" not in series.datasets[0]:
            array = array[..., 0]  # a plain 2D image, as MONAI's readers return it
        check_finite(array, series.source, "pixel data")
        if self.affine_lps_to_ras:
            affine = orientation_ras_lps(affine)
        first = series.datasets[0]
        tags = {key: first.get(key) for key in DICOM_META_KEYWORDS}
        meta: dict[str, Any] = {key: _tag_value(value) for key, value in tags.items() if value not in (None, "")}
        meta.update(
            {
                ImageMetaKey.FILENAME_OR_OBJ: series.source,
                MetaKeys.AFFINE: affine,
                MetaKeys.ORIGINAL_AFFINE: affine.copy(),
                MetaKeys.SPATIAL_SHAPE: np.asarray(array.shape),
                MetaKeys.ORIGINAL_CHANNEL_DIM: _NO_CHANNEL,
                MetaKeys.SPACE: SpaceKeys.RAS if self.affine_lps_to_ras else SpaceKeys.LPS,
                "spacing": np.linalg.norm(affine[:3, : array.ndim], axis=0),
            }
        )
        return array, meta


class ValidatedNibabelReader(NibabelReader):
    """MONAI's :class:`~monai.data.NibabelReader` that raises :class:`~mri_monai.errors.InputError` for bad files.

    Unreadable, truncated or non-NIfTI files, zero-size images and images holding NaN or Inf are reported with the
    file name instead of nibabel's or NumPy's own exceptions (or silently loaded NaNs). Arguments, array and meta
    dict are those of ``NibabelReader``.

    Example::

        image = LoadImage(reader=ValidatedNibabelReader, image_only=True)("t1.nii.gz")
    """

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> PendingRead:
        """Record the file(s) to read and the ``nibabel.load`` arguments; ``get_data`` reads them."""
        return _pending(data, kwargs)

    def get_data(self, img: PendingRead) -> tuple[np.ndarray, dict]:
        """Read the file(s) with ``NibabelReader``; return its array and meta dict."""
        for name in img.names:
            if not os.path.isfile(name):
                raise InputError(name, "file does not exist")
        try:
            loaded = super().read(img.names, **img.kwargs)
        except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError) as e:
            raise InputError(", ".join(img.names), f"not a readable NIfTI image ({e})") from None
        return super().get_data(loaded)

    def _get_array_data(self, img: Any, filename: PathLike) -> np.ndarray:
        if 0 in img.shape:
            raise InputError(filename, f"image is empty (shape {img.shape})")
        try:
            data = super()._get_array_data(img, filename)
        except (OSError, EOFError, ValueError, zlib.error) as e:
            raise InputError(filename, f"image data cannot be read, file truncated or corrupt? ({e})") from None
        check_finite(data, filename, "image")
        return data


class NiftiOrDicomReader(ImageReader):
    """A MONAI image reader for NIfTI files and DICOM files or series folders, chosen by the name.

    The project's one way to load a NIfTI or DICOM volume: give it to ``LoadImage``/``LoadImaged`` (in a bundle
    config, ``"reader": "mri_monai.data.readers.NiftiOrDicomReader"``). ``.nii``/``.nii.gz`` files go to
    :class:`ValidatedNibabelReader`, anything else (a ``.dcm`` file, a file with the DICOM preamble, a series
    folder) to :class:`DicomReader`; both raise :class:`~mri_monai.errors.InputError` for bad inputs, and an
    existing file that is neither is refused the same way. (``LoadImage`` given several readers tries the last one
    first without looking at the suffix, so one dispatching reader is needed.)

    Array and meta dict: those of the chosen reader (RAS affine), without a channel axis.

    Example::

        image = LoadImage(reader=NiftiOrDicomReader, image_only=True)("sub-000/MR_small.dcm")
        d = LoadImaged("image", reader=NiftiOrDicomReader, image_only=True)({"image": "t1.nii.gz"})
    """

    def __init__(self) -> None:
        super().__init__()
        self.nifti = ValidatedNibabelReader()
        self.dicom = DicomReader()

    def _reader(self, filename: Sequence[PathLike] | PathLike) -> ImageReader:
        return self.nifti if self.nifti.verify_suffix(filename) else self.dicom

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether ``filename`` is NIfTI or DICOM (by name, folder or DICOM preamble)."""
        return self.nifti.verify_suffix(filename) or self.dicom.verify_suffix(filename)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> tuple[ImageReader, Any]:
        """Record the reader for ``data`` and what its ``read`` returns (nothing is read yet)."""
        reader = self._reader(data)
        return reader, reader.read(data, **kwargs)

    def get_data(self, img: tuple[ImageReader, Any]) -> tuple[np.ndarray, dict]:
        """Read the image with the recorded reader; return its array and meta dict."""
        reader, pending = img
        # checked here, not in ``read``: ``LoadImage`` catches errors from ``read`` and tries its other readers
        for name in pending.names:
            if os.path.isfile(name) and not self.verify_suffix(name):
                raise InputError(name, "not a NIfTI (.nii, .nii.gz) or DICOM (.dcm, DICOM folder) image")
        return reader.get_data(pending)

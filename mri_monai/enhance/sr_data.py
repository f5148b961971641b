"""Inputs of the super-resolution bundle: datalist splits that fail loudly when empty, and a NIfTI-or-DICOM reader."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data import ImageReader, load_decathlon_datalist

from mri_monai.data.readers import DicomReader, ValidatedNibabelReader
from mri_monai.errors import InputError

__all__ = ["NiftiOrDicomReader", "load_split"]


def load_split(datalist: str | os.PathLike, split: str, base_dir: str | os.PathLike | None = None) -> list[dict]:
    """The items of ``split`` in a MONAI (Decathlon-style) datalist, with paths joined to ``base_dir``.

    Args:
        datalist: the datalist JSON file.
        split: ``"training"``, ``"validation"`` or ``"test"``.
        base_dir: folder the relative paths start from (default: the datalist's folder).

    Raises:
        InputError: the datalist is missing or the split is empty (MONAI raises ``ValueError`` when the split key
            is missing).
    """
    if not os.path.isfile(datalist):
        raise InputError(datalist, "datalist file does not exist")
    items = load_decathlon_datalist(datalist, is_segmentation=True, data_list_key=split, base_dir=base_dir)
    if not items:
        raise InputError(datalist, f"the {split!r} split is empty")
    return items


class NiftiOrDicomReader(ImageReader):
    """A MONAI image reader for NIfTI files and DICOM files or series folders, chosen by the name.

    ``.nii``/``.nii.gz`` files go to :class:`~mri_monai.data.readers.ValidatedNibabelReader`, anything else (a
    ``.dcm`` file, a file with the DICOM preamble, a series folder) to :class:`~mri_monai.data.readers.DicomReader`;
    both raise :class:`~mri_monai.errors.InputError` for bad inputs. (``LoadImage`` given several readers tries the
    last one first without looking at the suffix, so one dispatching reader is needed.)

    Array and meta dict: those of the chosen reader (RAS affine).

    Example::

        image = LoadImage(reader=NiftiOrDicomReader, image_only=True)("sub-000/MR_small.dcm")
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
        return reader.get_data(pending)

"""Reading the contrasts of a multi-contrast subject (BraTS style) into one channel-first volume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data import ImageReader
from monai.utils import ImageMetaKey, MetaKeys, ensure_tuple

from mri_monai.data.readers import NiftiOrDicomReader, PendingRead
from mri_monai.errors import InputError

__all__ = ["MultiContrastReader"]


class MultiContrastReader(ImageReader):
    """Read ``num_contrasts`` co-registered contrasts into one (C, X, Y, Z) array, checking they fit together.

    The input is either a sequence of ``num_contrasts`` images (NIfTI files or DICOM series folders/files, one per
    contrast, in the order the network expects) or one 4D NIfTI file holding the contrasts on its last axis (what
    MONAI Label sends). Every contrast must have the same spatial shape and affine (within ``affine_tolerance``
    mm); each image is read by :class:`~mri_monai.data.readers.NiftiOrDicomReader`, which rejects unreadable
    files, empty images and NaN. All problems raise :class:`~mri_monai.errors.InputError` naming the file.

    Array: (C, X, Y, Z) float32; meta: the first contrast's, with ``original_channel_dim`` 0 and
    ``filename_or_obj`` the first contrast's file (output files are named after it).

    Args:
        num_contrasts: number of contrasts expected.
        affine_tolerance: largest allowed absolute difference between affine entries of two contrasts.

    Example::

        LoadImaged("image", reader=MultiContrastReader(4), image_only=True)({"image": [t1, t1ce, t2, flair]})
    """

    def __init__(self, num_contrasts: int = 4, affine_tolerance: float = 1e-3) -> None:
        super().__init__()
        self.num_contrasts = num_contrasts
        self.affine_tolerance = affine_tolerance
        self.reader = NiftiOrDicomReader()

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether every name is a NIfTI or DICOM image."""
        return all(self.reader.verify_suffix(name) for name in ensure_tuple(filename))

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> PendingRead:
        """Record the contrasts to read; ``get_data`` reads and checks them."""
        return PendingRead(tuple(str(name) for name in ensure_tuple(data)), kwargs)

    def _read_one(self, name: str) -> tuple[np.ndarray, dict]:
        return self.reader.get_data(self.reader.read(name))

    def get_data(self, img: PendingRead) -> tuple[np.ndarray, dict]:
        """Read the contrasts; return the (C, X, Y, Z) array and the meta dict described in the class docstring."""
        names = img.names
        if len(names) == 1:
            array, meta = self._read_one(names[0])
            if array.ndim != 4 or array.shape[-1] != self.num_contrasts:
                raise InputError(
                    names[0],
                    f"a single file must hold the {self.num_contrasts} contrasts on its last axis "
                    f"(X, Y, Z, {self.num_contrasts}); its shape is {array.shape}",
                )
            stack = np.moveaxis(array, -1, 0)
        elif len(names) == self.num_contrasts:
            arrays, metas = zip(*(self._read_one(name) for name in names), strict=True)
            meta = metas[0]
            for name, array, other in zip(names, arrays, metas, strict=True):
                if array.ndim != 3:
                    raise InputError(name, f"expected a 3D volume per contrast, got shape {array.shape}")
                if array.shape != arrays[0].shape:
                    raise InputError(name, f"shape {array.shape} differs from {names[0]}'s {arrays[0].shape}")
                difference = np.abs(np.asarray(other[MetaKeys.AFFINE]) - np.asarray(meta[MetaKeys.AFFINE])).max()
                if difference > self.affine_tolerance:
                    raise InputError(
                        name, f"geometry differs from {names[0]}'s (affine differs by {difference:.4g} mm)"
                    )
            stack = np.stack(arrays)
        else:
            raise InputError(
                ", ".join(names), f"expected {self.num_contrasts} contrasts (or one 4D file), got {len(names)} file(s)"
            )
        meta = dict(meta)
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
        meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(stack.shape[1:])
        meta[ImageMetaKey.FILENAME_OR_OBJ] = names[0]
        return np.ascontiguousarray(stack, dtype=np.float32), meta

"""A fixed/moving pair of 3D images with optional label maps, read and checked before anything runs.

Every problem is an :class:`~mri_monai.errors.InputError` naming the file: a missing, unreadable or empty file, NaN
or infinite voxels (all from :class:`~mri_monai.data.ValidatedNibabelReader`), an image that is not 3D, a constant
image (nothing to register), and a label map whose grid differs from its image's or whose values are not
non-negative integers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from monai.transforms import LoadImage

from mri_monai.data import ValidatedNibabelReader
from mri_monai.errors import InputError

__all__ = ["RegistrationPair", "load_pair", "grid_ddf"]


@dataclass
class RegistrationPair:
    """Images (X, Y, Z) in RAS voxel space with their (4, 4) affines; labels on their image's grid, or None.

    Attributes:
        fixed: float32 (X, Y, Z) fixed image.
        fixed_affine: (4, 4) voxel-to-RAS (mm) of ``fixed``.
        moving: float32 (X', Y', Z') moving image.
        moving_affine: (4, 4) voxel-to-RAS of ``moving``.
        fixed_labels: integer (X, Y, Z) labels of the fixed image, or None.
        moving_labels: integer (X', Y', Z') labels of the moving image, or None.
        names: ``fixed`` / ``moving`` (and label) file names, for reports.
    """

    fixed: np.ndarray
    fixed_affine: np.ndarray
    moving: np.ndarray
    moving_affine: np.ndarray
    fixed_labels: np.ndarray | None = None
    moving_labels: np.ndarray | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (mm) of the fixed image."""
        return tuple(float(v) for v in np.linalg.norm(self.fixed_affine[:3, :3], axis=0))

    @property
    def same_grid(self) -> bool:
        """Whether both images share shape and affine (no resampling between them)."""
        return self.fixed.shape == self.moving.shape and np.allclose(self.fixed_affine, self.moving_affine, atol=1e-4)


def grid_ddf(fixed_affine: np.ndarray, moving_affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The displacement (3, X, Y, Z), in moving voxels, that maps each fixed voxel to the same world point.

    With it MONAI's ``Warp`` resamples the moving image onto the fixed grid without moving anything (no
    registration); zero when both grids are the same.
    """
    to_moving = np.linalg.inv(np.asarray(moving_affine, np.float64)) @ np.asarray(fixed_affine, np.float64)
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"))
    moved = np.einsum("ij,j...->i...", to_moving[:3, :3], grid) + to_moving[:3, 3, None, None, None]
    return (moved - grid).astype(np.float32)


def _load(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    image = LoadImage(reader=ValidatedNibabelReader, image_only=True, dtype=np.float32)(str(path))
    array = np.asarray(image)
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(path, f"expected a 3D image, got {array.ndim}D (shape {tuple(np.shape(image))})")
    return array, np.asarray(image.affine, dtype=np.float64)


def _load_image(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    array, affine = _load(path)
    low, high = float(array.min()), float(array.max())
    if low == high:
        raise InputError(path, f"image is constant (every voxel is {low:g}): nothing to register")
    return array, affine


def _load_labels(path: str | os.PathLike, image: np.ndarray, affine: np.ndarray, image_path) -> np.ndarray:
    labels, label_affine = _load(path)
    if labels.shape != image.shape:
        raise InputError(path, f"label map shape {labels.shape} does not match its image {image_path} {image.shape}")
    if not np.allclose(label_affine, affine, atol=1e-3):
        raise InputError(path, f"label map affine differs from its image {image_path}: not on the same grid")
    if labels.min() < 0 or not np.array_equal(labels, np.rint(labels)):
        raise InputError(path, "label map must hold non-negative integers")
    return labels.astype(np.int16)


def load_pair(
    fixed: str | os.PathLike,
    moving: str | os.PathLike,
    fixed_labels: str | os.PathLike | None = None,
    moving_labels: str | os.PathLike | None = None,
) -> RegistrationPair:
    """Read and check a registration pair (NIfTI files).

    Args:
        fixed: fixed image file.
        moving: moving image file.
        fixed_labels: integer label map on the fixed image's grid (optional; needed with ``moving_labels``).
        moving_labels: integer label map on the moving image's grid (optional).

    Raises:
        InputError: naming the file, for any problem listed in the module docstring, or when only one of the two
        label maps is given.
    """
    if (fixed_labels is None) != (moving_labels is None):
        given = fixed_labels if fixed_labels is not None else moving_labels
        raise InputError(given, "give label maps for both images (--fixed-labels and --moving-labels) or for neither")
    fixed_array, fixed_affine = _load_image(fixed)
    moving_array, moving_affine = _load_image(moving)
    names = {"fixed": str(fixed), "moving": str(moving)}
    pair = RegistrationPair(fixed_array, fixed_affine, moving_array, moving_affine, names=names)
    if fixed_labels is not None and moving_labels is not None:
        pair.fixed_labels = _load_labels(fixed_labels, fixed_array, fixed_affine, fixed)
        pair.moving_labels = _load_labels(moving_labels, moving_array, moving_affine, moving)
        names.update(fixed_labels=str(fixed_labels), moving_labels=str(moving_labels))
    return pair

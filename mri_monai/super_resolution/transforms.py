"""Transforms of the super-resolution pipeline: interpolation onto the HR grid and back onto a reference grid.

Input checks and the invertible intensity scaling are the shared :class:`~mri_monai.data.transforms.CheckImaged`
(``as_volume=True``: a 2D slice becomes a one-slice volume) and :class:`~mri_monai.data.transforms.ScaleByPercentiled`.

The network of ``brain_mri_super_resolution`` works on the low-resolution (LR) image interpolated onto the
high-resolution (HR) grid. :class:`InterpolateToGrid` makes that input with cubic B-spline (``order=3``, the "cubic"
baseline) or trilinear (``order=1``) interpolation, inverting the geometry of
:func:`~mri_monai.super_resolution.degrade.low_resolution_affine`: HR voxel ``i`` sits at LR voxel ``i / f``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import MetaKeys, ensure_tuple_rep
from scipy.ndimage import affine_transform

from .degrade import check_scale

__all__ = [
    "CopyGeometryd",
    "InterpolateToGrid",
    "InterpolateToGridd",
    "high_resolution_affine",
]


def high_resolution_affine(affine: np.ndarray | torch.Tensor, scale: Sequence[int]) -> torch.Tensor:
    """The (4, 4) affine of the HR grid of an LR image: ``affine @ diag(1 / f, 1)`` (HR voxel ``i`` at LR ``i / f``)."""
    affine = torch.as_tensor(affine, dtype=torch.float64)
    return affine @ torch.diag(torch.tensor([*(1.0 / f for f in scale), 1.0], dtype=torch.float64))


class InterpolateToGrid(Transform):
    """Interpolate an LR image onto its HR grid with a B-spline of order ``order`` (3: cubic, 1: trilinear).

    Args:
        scale: one integer factor per spatial axis between the LR and the HR voxel sizes.
        order: spline order: 3 (cubic B-spline, with SciPy's prefilter) or 1 (trilinear).

    Shapes:
        input: (C, *lr_spatial); output: (C, *spatial_size), by default ``lr_spatial * scale``. A MetaTensor input
        gives a MetaTensor with the HR affine (:func:`high_resolution_affine`), unless ``affine`` is given, and the
        input's ``applied_operations`` (``Invertd`` can still undo the intensity scaling done before).
        Values beyond the last LR voxel repeat the edge.

    Example::

        cubic = InterpolateToGrid(scale=(1, 1, 2), order=3)(lr)  # (1, 160, 192, 80) -> (1, 160, 192, 160)
    """

    def __init__(self, scale: Sequence[int] | int = (1, 1, 2), order: int = 3) -> None:
        if order not in (0, 1, 2, 3, 4, 5):
            raise ValueError(f"order must be a spline order 0-5, got {order}")
        self.scale = scale
        self.order = order

    def __call__(
        self,
        img: torch.Tensor,
        spatial_size: Sequence[int] | None = None,
        affine: np.ndarray | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return ``img`` on the HR grid of shape ``spatial_size`` (and ``affine``, when given)."""
        scale = check_scale(self.scale, img.ndim - 1)
        size = tuple(n * f for n, f in zip(img.shape[1:], scale, strict=True)) if spatial_size is None else spatial_size
        array = img.detach().cpu().numpy().astype(np.float32)
        matrix = np.array([1.0 / f for f in scale])
        out = np.stack(
            [affine_transform(c, matrix, output_shape=tuple(size), order=self.order, mode="nearest") for c in array]
        )
        result = torch.from_numpy(out)
        if isinstance(img, MetaTensor):
            meta = dict(img.meta)
            meta[MetaKeys.AFFINE] = high_resolution_affine(img.affine, scale) if affine is None else affine
            meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(size)
            result = MetaTensor(result, meta=meta, applied_operations=list(img.applied_operations))
        return result.to(img.device)


class InterpolateToGridd(MapTransform):
    """Dictionary version of :class:`InterpolateToGrid`, optionally onto the grid of a reference image.

    Args:
        keys: keys of the LR images.
        scale: one integer factor per spatial axis.
        order: spline order, 3 (cubic) or 1 (trilinear).
        output_keys: keys of the results (one per key); ``None``: replace the inputs.
        ref_key: key of an HR image whose spatial shape and affine the results take (a degraded HR image goes
            back onto exactly its own grid); ``None``: the grid of :class:`InterpolateToGrid`.
        allow_missing_keys: do not raise for missing keys.

    Example::

        d = InterpolateToGridd("lr", scale=(1, 1, 2), output_keys="image", ref_key="label")(d)
    """

    def __init__(
        self,
        keys: KeysCollection,
        scale: Sequence[int] | int = (1, 1, 2),
        order: int = 3,
        output_keys: KeysCollection | None = None,
        ref_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.interpolate = InterpolateToGrid(scale, order)
        self.output_keys = self.keys if output_keys is None else ensure_tuple_rep(output_keys, len(self.keys))
        self.ref_key = ref_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Interpolate ``data[key]`` into ``data[output_key]`` for every key."""
        d = dict(data)
        size = affine = None
        if self.ref_key is not None:
            ref = d[self.ref_key]
            size = tuple(ref.shape[1:])
            affine = ref.affine.clone() if isinstance(ref, MetaTensor) else None
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.interpolate(d[key], spatial_size=size, affine=affine)
        return d


class CopyGeometryd(MapTransform):
    """Put images onto the grid of a reference image: its spatial shape and meta data (affine, file name).

    A network that upsamples inside (:class:`~mri_monai.networks.SRGANGenerator`) returns ``lr_shape * scale`` voxels
    that still carry its LR input's affine. An HR volume of odd length ``n`` has ``ceil(n / f)`` LR voxels, so the
    output has up to ``f - 1`` HR voxels more than the reference at the far end (HR voxel ``i`` is at LR ``i / f``,
    so the first ``n`` voxels are the reference's); those are cut off.

    Args:
        keys: keys of the images to put on the reference grid, (C, *spatial).
        ref_key: key of the reference MetaTensor, (C', *ref_spatial).
        allow_missing_keys: do not raise for missing keys.

    Raises:
        ValueError: an image is shorter than the reference along some axis.
    """

    def __init__(self, keys: KeysCollection, ref_key: str, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Return ``data`` with every key cropped to ``data[ref_key]``'s shape, carrying a copy of its meta data."""
        d = dict(data)
        ref = d[self.ref_key]
        size = tuple(ref.shape[1:])
        for key in self.key_iterator(d):
            img = torch.as_tensor(d[key])
            if any(n < m for n, m in zip(img.shape[1:], size, strict=True)):
                raise ValueError(f"{key} of spatial shape {tuple(img.shape[1:])} is smaller than {self.ref_key} {size}")
            d[key] = MetaTensor(img[(slice(None), *(slice(0, m) for m in size))], meta=dict(ref.meta))
        return d

"""Dictionary transforms around an image-to-image network: input checks and invertible intensity scaling.

NIfTI and DICOM images are loaded with MONAI's ``LoadImaged`` and
:class:`~mri_monai.data.readers.NiftiOrDicomReader`; :class:`CheckImaged` then refuses what a network cannot be run
on, and :class:`ScaleByPercentiled` divides by a percentile, undone by ``Invertd`` (or its ``inverse``).
:func:`check_volumes` runs the same check over every file of a datalist before a run writes anything.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, LoadImage, MapTransform
from monai.utils import ImageMetaKey, TraceKeys

from mri_monai.data.readers import NiftiOrDicomReader
from mri_monai.errors import InputError

__all__ = ["CheckImaged", "ScaleByPercentiled", "check_volumes"]


def _source(img: torch.Tensor, key: Hashable) -> str:
    """The file an image came from (its ``filename_or_obj``), else a label naming its key."""
    meta = getattr(img, "meta", {})
    return str(meta.get(ImageMetaKey.FILENAME_OR_OBJ) or f"<{key}>")


class CheckImaged(MapTransform):
    """Raise :class:`~mri_monai.errors.InputError`, naming the file, for images a network cannot be run on.

    Refused: a number of spatial dimensions not in ``spatial_dims``, a number of channels other than
    ``channels`` (e.g. a 4D NIfTI of several volumes), an empty image (a zero-size axis, or every voxel the same
    value, e.g. all zero) and NaN or infinite values. With ``as_volume``, an accepted 2D image (one slice, e.g. one
    DICOM file) becomes a one-slice 3D volume for networks and transforms that need three spatial axes.

    Args:
        keys: keys of channel-first images (C, *spatial), e.g. after ``EnsureChannelFirstd``.
        spatial_dims: accepted numbers of spatial dimensions.
        channels: required number of channels (``None``: any).
        as_volume: add a last spatial axis of length 1 to 2D images, (C, X, Y) -> (C, X, Y, 1); the affine is
            unchanged, its third column being the slice normal times the slice thickness.
        allow_missing_keys: do not raise for missing keys.

    Example::

        CheckImaged("image", spatial_dims=(2, 3), channels=1)({"image": img})  # returns the item unchanged
        CheckImaged("image", as_volume=True)({"image": slice_2d})["image"]  # (1, X, Y) -> (1, X, Y, 1)
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_dims: Sequence[int] = (2, 3),
        channels: int | None = 1,
        as_volume: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.spatial_dims = tuple(int(s) for s in spatial_dims)
        self.channels = channels
        self.as_volume = as_volume

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Check every key; return the item unchanged (2D images with a slice axis added, with ``as_volume``)."""
        d = dict(data)
        for key in self.key_iterator(d):
            img = d[key]
            source = _source(img, key)
            shape = tuple(img.shape)
            spatial = shape[1:]
            if len(spatial) not in self.spatial_dims:
                raise InputError(
                    source,
                    f"expected a {' or '.join(f'{s}D' for s in self.spatial_dims)} image, "
                    f"got {len(spatial)} spatial dimensions (channel-first shape {shape})",
                )
            if self.channels is not None and shape[0] != self.channels:
                raise InputError(
                    source,
                    f"expected {self.channels} channel(s), got {shape[0]} (channel-first shape {shape}): "
                    "several volumes, echoes or colour channels in one file?",
                )
            if 0 in shape:
                raise InputError(source, f"image is empty (shape {shape})")
            values = torch.as_tensor(img)
            bad = int((~torch.isfinite(values)).sum())
            if bad:
                raise InputError(source, f"image contains {bad} NaN or infinite value(s)")
            if bool(values.max() == values.min()):
                raise InputError(source, f"image is empty: every voxel equals {float(values.max()):g}")
            if self.as_volume and len(spatial) == 2:
                d[key] = img.unsqueeze(-1)
        return d


def check_volumes(entries: Sequence[dict], keys: Sequence[str], optional_keys: Sequence[str] = ()) -> None:
    """Check, before anything is written, that every file under ``keys`` is one readable, finite 3D volume.

    Each file is loaded with :class:`~mri_monai.data.readers.NiftiOrDicomReader` (channel first) and checked with
    :class:`CheckImaged` (``spatial_dims=(3,)``, ``channels=1``): accepted are files of shape (X, Y, Z) or
    (X, Y, Z, 1), i.e. channel-first (1, X, Y, Z).

    Args:
        entries: datalist items (paths absolute, as ``load_decathlon_datalist`` returns them).
        keys: keys of the images to check, in every entry.
        optional_keys: keys checked in the entries that have them (e.g. a reference image), after ``keys``.

    Raises:
        InputError: naming the file (or the datalist item): empty list, missing key, unreadable file, NaN/Inf, an
            empty image (every voxel the same value), or not a single-contrast 3D volume (a 2D image, or a 4D
            file holding several contrasts or time points).

    Example::

        check_volumes(load_datalist_split("datalist.json", "test"), ["t1w"], optional_keys=["t2w"])
    """
    if not entries:
        raise InputError("<datalist>", "no cases to process")
    loader = LoadImage(reader=NiftiOrDicomReader, image_only=True, ensure_channel_first=True)
    check = CheckImaged("image", spatial_dims=(3,), channels=1)
    checks = [(entry, key) for entry in entries for key in keys]
    checks += [(entry, key) for entry in entries for key in optional_keys if key in entry]
    for entry, key in checks:
        if key not in entry:
            raise InputError(str(entry), f"datalist item lacks key {key!r}")
        check({"image": loader(entry[key])})


class ScaleByPercentiled(MapTransform, InvertibleTransform):
    """Divide images by a percentile of a reference image; invertible, so ``Invertd`` restores the input's units.

    Networks see intensities near [0, 1] whatever the scanner's units; the factor is recorded in each image's
    ``applied_operations`` and the inverse multiplies by it (use ``Invertd(keys="pred", orig_keys="image", ...)``).

    Args:
        keys: keys of the images to scale.
        ref_key: key of the image whose percentile gives the factor for all ``keys`` (e.g. the noisy input, so that
            the target of a training pair is scaled like its input); ``None``: each image its own.
        percentile: percentile in [0, 100] of the reference giving the factor.
        allow_missing_keys: do not raise for missing keys.

    Raises:
        InputError: the percentile is not positive (an image of zeros or negative values), naming the file.

    Example::

        scale = ScaleByPercentiled(["image", "label"], ref_key="image", percentile=99.5)
        d = scale({"image": noisy, "label": clean})
        restored = scale.inverse({"image": d["image"]})["image"]  # == noisy
    """

    def __init__(
        self,
        keys: KeysCollection,
        ref_key: str | None = None,
        percentile: float = 99.5,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if not 0 <= percentile <= 100:
            raise ValueError(f"percentile must be in [0, 100], got {percentile}")
        self.ref_key = ref_key
        self.percentile = float(percentile)

    def _factor(self, img: torch.Tensor, key: Hashable) -> float:
        values = torch.as_tensor(img).detach().cpu().numpy()
        factor = float(np.percentile(values, self.percentile))
        if not np.isfinite(factor) or factor <= 0:
            raise InputError(
                _source(img, key), f"cannot normalise: {self.percentile:g}th percentile is {factor:g} (must be > 0)"
            )
        return factor

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Scale every key; record the factor for the inverse."""
        d = dict(data)
        shared = None if self.ref_key is None else self._factor(d[self.ref_key], self.ref_key)
        for key in self.key_iterator(d):
            factor = self._factor(d[key], key) if shared is None else shared
            img = d[key] if isinstance(d[key], MetaTensor) else MetaTensor(d[key])
            img = img / factor
            self.push_transform(img, extra_info={"factor": factor})
            d[key] = img
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Multiply every key by the factor recorded when it was scaled."""
        d = dict(data)
        for key in self.key_iterator(d):
            xform = self.pop_transform(d[key])
            d[key] = d[key] * xform[TraceKeys.EXTRA_INFO]["factor"]
        return d

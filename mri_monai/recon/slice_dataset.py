"""A MONAI dataset over the (file, slice) pairs of fastMRI HDF5 volumes, read lazily slice by slice."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import torch
from monai.data import Dataset
from monai.transforms import apply_transform

from mri_monai.data.fastmri_h5 import RECONSTRUCTION_KEYS
from mri_monai.errors import InputError, check_finite
from mri_monai.kspace import check_kspace

__all__ = ["FastMRISliceDataset", "with_accelerations"]


def _slice_count(path: str) -> tuple[int, str | None]:
    """Number of slices of a fastMRI file and its target key; the file's layout is checked without reading it."""
    if not os.path.isfile(path):
        raise InputError(path, "file does not exist")
    try:
        with h5py.File(path, "r") as f:
            if "kspace" not in f:
                raise InputError(path, f"key 'kspace' is missing (keys: {sorted(f.keys())})")
            kspace = f["kspace"]
            if not np.issubdtype(kspace.dtype, np.complexfloating):
                raise InputError(path, f"kspace must be complex, got {kspace.dtype}")
            if kspace.ndim not in (3, 4):
                raise InputError(path, f"kspace must be (slices, coils, H, W) or (slices, H, W), got {kspace.shape}")
            target = next((k for k in RECONSTRUCTION_KEYS if k in f), None)
            return int(kspace.shape[0]), target
    except OSError as e:
        raise InputError(path, f"cannot be read as HDF5 (unreadable, truncated or not HDF5: {e})") from None


class FastMRISliceDataset(Dataset):
    """2D slices of fastMRI volumes: one item per (file, slice), read from the HDF5 file when requested.

    Each item is a dictionary with ``kspace`` (complex64 (C, H, W); single-coil files give C = 1), ``target``
    (float32 (1, H', W'), the file's ``reconstruction_rss``/``_esc`` slice, when the file holds one),
    ``filename`` (str) and ``slice`` (int), then passed through ``transform``.

    Args:
        data: datalist entries (dictionaries), e.g. from ``monai.data.load_decathlon_datalist``.
        key: the entry key holding the ``.h5`` path (``"multicoil"`` or ``"singlecoil"``).
        transform: MONAI transform applied to each item's dictionary.
        require_target: raise when a file has no target (training and validation need one).

    Raises:
        InputError: a missing, unreadable or truncated file, a missing or non-complex ``kspace``, a missing target;
            at reading time, NaN or infinite k-space.
        ValueError: no entries.

    Example::

        ds = FastMRISliceDataset(load_decathlon_datalist("datalist.json", True, "training"), "multicoil")
        ds[0]["kspace"].shape  # (8, 160, 128)
    """

    def __init__(
        self,
        data: Sequence[Mapping[str, Any]],
        key: str,
        transform: Callable | None = None,
        require_target: bool = True,
    ) -> None:
        items = []
        for entry in data:
            if key not in entry:
                raise InputError(str(entry), f"datalist entry has no key {key!r}")
            path = str(entry[key])
            slices, target = _slice_count(path)
            if target is None and require_target:
                raise InputError(path, f"no target image (one of {list(RECONSTRUCTION_KEYS)}) for training")
            items += [{"filename": path, "slice": s, "target_key": target} for s in range(slices)]
        if not items:
            raise ValueError(f"no slices: the datalist holds {len(data)} entries with key {key!r}")
        super().__init__(items, transform)

    def _transform(self, index: int) -> Any:
        item = self.data[index]
        path, s = item["filename"], item["slice"]
        try:
            with h5py.File(path, "r") as f:
                kspace = f["kspace"][s]
                target = None if item["target_key"] is None else f[item["target_key"]][s]
        except OSError as e:
            raise InputError(path, f"slice {s} cannot be read (truncated file? {e})") from None
        kspace = torch.from_numpy(np.asarray(kspace, dtype=np.complex64))
        kspace = kspace.unsqueeze(0) if kspace.ndim == 2 else kspace
        check_kspace(kspace, f"{path} slice {s}")
        out: dict[str, Any] = {"kspace": kspace, "filename": path, "slice": s}
        if target is not None:
            check_finite(target, path, f"{item['target_key']} slice {s}")
            out["target"] = torch.from_numpy(np.asarray(target, dtype=np.float32)).unsqueeze(0)
        return apply_transform(self.transform, out) if self.transform is not None else out


def with_accelerations(
    entries: Sequence[Mapping[str, Any]], accelerations: int | Sequence[int]
) -> list[dict[str, Any]]:
    """Copies of the datalist ``entries`` with an ``"acceleration"`` item, once per acceleration.

    The result lists every entry at the first acceleration, then every entry at the next one, and so on (the order
    a bundle's evaluation reports them in). :class:`~mri_monai.recon.Undersampled` reads the item.

    Args:
        entries: datalist items (not modified).
        accelerations: one acceleration factor (inference) or several (evaluation).

    Returns:
        ``[dict(e, acceleration=a) for a in accelerations for e in entries]``.

    Example::

        with_accelerations([{"singlecoil": "a.h5"}], [4, 8])
        # [{"singlecoil": "a.h5", "acceleration": 4}, {"singlecoil": "a.h5", "acceleration": 8}]
    """
    factors = [accelerations] if isinstance(accelerations, int) else list(accelerations)
    return [dict(e, acceleration=a) for a in factors for e in entries]

"""Where data came from, for figure titles and reports: "synthetic" only for data this project made.

``make-data`` marks what it writes: fastMRI HDF5 files carry the attribute ``synthetic`` (e.g. ``"MNI152-derived"``)
and datalists a ``description`` starting with ``SYNTHETIC``. Its NIfTI files carry no mark of their own; they are
known as synthetic through their datalist. Anything unmarked is the user's data and is named by its file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

__all__ = ["SYNTHETIC_ATTRIBUTE", "data_description", "source_title", "synthetic_origin"]

#: the fastMRI HDF5 attribute ``make-data`` sets on the files it writes
SYNTHETIC_ATTRIBUTE = "synthetic"


def synthetic_origin(path: str | os.PathLike) -> str | None:
    """What a file made by this project says of its origin, ``None`` for any other file.

    Args:
        path: a fastMRI HDF5 file (its ``synthetic`` attribute) or a datalist JSON (its ``description`` when that
            starts with ``SYNTHETIC``); other files, and files that cannot be read, give ``None``.

    Example::

        synthetic_origin("demo_data/reconstruction/sub-000/kspace_multicoil.h5")  # "MNI152-derived"
        synthetic_origin("file_brain_AXT2_200_6002217.h5")  # None
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".h5":
            with h5py.File(path, "r") as f:
                value = f.attrs.get(SYNTHETIC_ATTRIBUTE)
            return None if value is None else str(value.decode() if isinstance(value, bytes) else value)
        if path.suffix.lower() == ".json":
            description = json.loads(path.read_text(encoding="utf-8")).get("description", "")
            return description if str(description).upper().startswith("SYNTHETIC") else None
    except (OSError, ValueError, AttributeError):
        return None
    return None


def source_title(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """A figure title for data read from ``path``: its name (relative to ``root`` when inside it), and
    ``(synthetic, <origin>)`` when the project made it.

    Example::

        source_title("/data/sub-003/kspace_multicoil.h5", "/data")  # "sub-003/kspace_multicoil.h5 (synthetic, ...)"
        source_title("/scans/file_brain_001.h5", "/scans")  # "file_brain_001.h5"
    """
    path = Path(path)
    name = path.name
    if root is not None and path.absolute().is_relative_to(Path(root).absolute()):
        name = path.absolute().relative_to(Path(root).absolute()).as_posix()
    origin = synthetic_origin(path)
    return f"{name} (synthetic, {origin})" if origin else name


def data_description(datalist: str | os.PathLike, dataset_dir: str | os.PathLike) -> str:
    """One line on the data of a run, for reports: the datalist's ``description``, else where the data are.

    Args:
        datalist: the run's datalist (may not exist: the run read a folder or a list of files).
        dataset_dir: the run's ``dataset_dir``.
    """
    if os.path.isfile(datalist):
        try:
            description = json.loads(Path(datalist).read_text(encoding="utf-8")).get("description")
        except (OSError, ValueError, AttributeError):
            description = None
        if description:
            return str(description)
        return f"data listed in {datalist}"
    return f"data in {dataset_dir}"

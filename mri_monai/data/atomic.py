"""Atomic outputs: a file is written completely or not at all, and never over one of the inputs."""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from mri_monai.errors import InputError

__all__ = ["atomic_output", "save_nifti", "write_metrics"]

_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


def _full_suffix(path: Path) -> str:
    """``".nii.gz"`` for ``a.nii.gz``, ``".h5"`` for ``a.b.h5``: the suffix a writer looks at."""
    suffixes = path.suffixes
    if len(suffixes) >= 2 and suffixes[-1].lower() in _COMPRESSION_SUFFIXES:
        return "".join(suffixes[-2:])
    return path.suffix


def _is_same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links


@contextmanager
def atomic_output(
    path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = True
) -> Iterator[Path]:
    """Write ``path`` through a temporary file in the same folder, moved onto ``path`` only on success.

    The temporary file is hidden (``.<name>.tmp-<random><suffix>``) and keeps the suffix of ``path``
    (``.nii.gz``, ``.h5``...) so that writers which choose the format from the suffix behave as for
    ``path``. The caller's writer creates it. When the ``with`` block raises, the temporary file is
    deleted and the exception propagates, so ``path`` is either the old file or the complete new one.

    Args:
        path: the output file. Missing parent folders are created.
        inputs: files the output is derived from; writing onto any of them is refused.
        overwrite: when ``False``, an existing ``path`` is refused.

    Yields:
        the temporary path to write to.

    Raises:
        InputError: ``path`` is one of ``inputs`` (also through links), or exists and ``overwrite`` is ``False``.

    Example::

        with atomic_output("out/seg.nii.gz", inputs=[image_path]) as tmp:
            nib.save(img, tmp)
    """
    path = Path(path)
    for source in inputs:
        if _is_same_file(path, Path(source)):
            raise InputError(path, "refusing to overwrite an input")
    if path.exists() and not overwrite:
        raise InputError(path, "already exists (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}{_full_suffix(path)}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_nifti(
    array: np.ndarray,
    affine: np.ndarray,
    path: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = True,
    header: nib.Nifti1Header | None = None,
) -> Path:
    """Save a 3D or 4D array as NIfTI-1 atomically (see :func:`atomic_output`).

    The array's dtype is kept, except float64, written as float32, and bool, written as uint8. A given
    ``header`` (e.g. the input's) is copied for its other fields; its data type and shape are replaced.

    Args:
        array: image of shape (X, Y, Z) or (X, Y, Z, T), in NIfTI (not channel-first) order.
        affine: (4, 4) voxel-to-world (RAS, mm) matrix.
        path: output file, ``.nii`` or ``.nii.gz``.
        inputs: files the output is derived from; writing onto any of them is refused.
        overwrite: when ``False``, an existing ``path`` is refused.
        header: optional NIfTI-1 header to start from.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: wrong array rank, an affine that is not a finite (4, 4) matrix, or a refused ``path``.
    """
    array = np.asarray(array)
    affine = np.asarray(affine, dtype=np.float64)
    if array.ndim not in (3, 4):
        raise InputError(path, f"NIfTI output must be 3D or 4D, got shape {array.shape}")
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise InputError(path, f"affine must be a finite (4, 4) matrix, got shape {affine.shape}")
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8)
    img = nib.Nifti1Image(array, affine, header=header, dtype=array.dtype)
    if header is None:
        img.header.set_xyzt_units("mm", "sec")
    with atomic_output(path, inputs=inputs, overwrite=overwrite) as tmp:
        nib.save(img, tmp)
    return Path(path)


def write_metrics(
    output_dir: str | os.PathLike, rows: Sequence[dict[str, Any]], summary: dict[str, Any]
) -> dict[str, Any]:
    """Write ``rows`` to ``<output_dir>/metrics.csv`` and ``summary`` to ``metrics_summary.json``, atomically.

    Returns:
        ``summary``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_output(out / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    with atomic_output(out / "metrics_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary

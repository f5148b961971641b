"""The data list of a bundle run: a MONAI datalist's split, a list of files, or every matching file in a folder.

Every bundle builds its data list here. :func:`load_datalist_split` reads one split of a MONAI (Decathlon-style)
datalist and fails loudly when it is missing or empty. :func:`bundle_data_list` adds the two ways a user points a
bundle at their own scans, without writing a datalist:

- ``--dataset_dir DIR`` where ``DIR`` holds no ``datalist.json``: every input of the bundle's ``layout`` in ``DIR``
  (searched recursively);
- ``--files "['a.nii.gz', 'b.nii.gz']"``: those inputs (paths relative to ``dataset_dir``, or absolute inside it).

Layouts (what an input is, and the item it becomes, ``key`` being the bundle's input key):

- ``"multicoil"``, ``"singlecoil"``: a fastMRI HDF5 file (``.h5`` holding ``kspace`` of shape (slices, coils, H, W),
  resp. (slices, H, W)) -> ``{key: file}``;
- ``"image"``: a NIfTI file (``.nii``, ``.nii.gz``) or a DICOM series folder (a folder holding DICOM files)
  -> ``{key: file or folder}``;
- ``"brats"``: a BraTS case folder ``CASE/`` holding ``*_t1``, ``*_t1ce``, ``*_t2`` and ``*_flair`` NIfTI files
  (and optionally ``*_seg``) -> ``{key: [t1, t1ce, t2, flair], "label": seg}``, or a 4D NIfTI holding the four
  contrasts on its last axis -> ``{key: file}``.

Files that are none of these make the scan fail with :class:`~mri_monai.errors.InputError` naming them, except
hidden files and documentation or sidecar files (:data:`IGNORED_SUFFIXES`); a folder without inputs fails too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
from monai.data import load_decathlon_datalist

from mri_monai.errors import InputError

__all__ = [
    "BRATS_CONTRASTS",
    "IGNORED_SUFFIXES",
    "LAYOUTS",
    "bundle_data_list",
    "find_inputs",
    "input_items",
    "load_datalist_split",
]

#: what each layout reads, for messages
LAYOUTS: dict[str, str] = {
    "multicoil": "multi-coil fastMRI HDF5 files (.h5 with kspace (slices, coils, H, W))",
    "singlecoil": "single-coil fastMRI HDF5 files (.h5 with kspace (slices, H, W))",
    "image": "NIfTI files (.nii, .nii.gz) or DICOM series folders",
    "brats": "BraTS case folders (CASE_t1, CASE_t1ce, CASE_t2, CASE_flair .nii.gz) or 4-contrast NIfTI files",
}
#: contrast suffixes of a BraTS case folder, in the order the segmentation network takes them
BRATS_CONTRASTS = ("t1", "t1ce", "t2", "flair")
#: files a folder scan passes over: documentation and sidecars (e.g. BIDS .json) next to the images
IGNORED_SUFFIXES = (".json", ".txt", ".md", ".csv", ".tsv", ".log", ".png")
_KSPACE_RANK = {"multicoil": 4, "singlecoil": 3}
_NIFTI = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)
_BRATS = re.compile(r"_(t1|t1ce|t2|flair|seg)\.nii(\.gz)?$", re.IGNORECASE)


def load_datalist_split(
    datalist: str | os.PathLike, split: str, base_dir: str | os.PathLike | None = None
) -> list[dict]:
    """The items of one split of a MONAI (Decathlon-style) datalist, paths joined to ``base_dir``.

    :func:`monai.data.load_decathlon_datalist` reads the split (and raises when a listed file key is malformed);
    this function first checks what it does not: the file exists, the split exists and is a non-empty list (an
    empty ``"test"`` list makes MONAI fail with a bare ``IndexError``).

    Args:
        datalist: the datalist JSON file.
        split: the key of the split, e.g. ``"training"``, ``"validation"`` or ``"test"``.
        base_dir: folder the relative paths start from (default: the datalist's folder).

    Raises:
        InputError: the datalist is missing or unreadable, or the split is missing, not a list or empty.

    Example::

        items = load_datalist_split("demo_data/denoising/datalist.json", "test")  # [{"image": ".../t1w.nii.gz"}]
    """
    if not os.path.isfile(datalist):
        raise InputError(datalist, "datalist file does not exist")
    try:
        content = json.loads(Path(datalist).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(datalist, f"datalist is not readable JSON ({e})") from None
    items = content.get(split) if isinstance(content, dict) else None
    if not isinstance(items, list) or not items:
        found = {k: len(v) for k, v in content.items() if isinstance(v, list)} if isinstance(content, dict) else {}
        raise InputError(datalist, f"split {split!r} is missing or empty (lists and their lengths: {found})")
    return load_decathlon_datalist(datalist, is_segmentation=True, data_list_key=split, base_dir=base_dir)


def _is_dicom_file(path: Path) -> bool:
    """A ``.dcm`` file, or a file with the DICOM preamble (``DICM`` at byte 128)."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _check_fastmri(path: Path, layout: str) -> None:
    """Raise unless ``path`` is an HDF5 file holding ``kspace`` of ``layout``'s rank (only the header is read)."""
    try:
        with h5py.File(path, "r") as f:
            if "kspace" not in f or not isinstance(f["kspace"], h5py.Dataset):
                raise InputError(path, f"HDF5 file has no 'kspace' dataset (keys: {sorted(f.keys())})")
            shape = f["kspace"].shape
    except OSError as e:
        raise InputError(path, f"not a readable HDF5 file ({e})") from None
    if len(shape) != _KSPACE_RANK[layout]:
        other = "single" if layout == "multicoil" else "multi"
        raise InputError(path, f"kspace of shape {shape} is {other}-coil; this bundle reads {LAYOUTS[layout]}")


def _brats_case(folder: Path, files: list[Path]) -> dict[str, str | list[str]]:
    """The item of a BraTS case folder from its ``*_{t1,t1ce,t2,flair,seg}.nii[.gz]`` files."""
    found: dict[str, Path] = {}
    for f in files:
        contrast = _BRATS.search(f.name).group(1).lower()
        if contrast in found:
            raise InputError(folder, f"two '{contrast}' files: {found[contrast].name} and {f.name}")
        found[contrast] = f
    missing = [c for c in BRATS_CONTRASTS if c not in found]
    if missing:
        raise InputError(folder, f"BraTS case folder lacks the {', '.join(missing)} file(s) (CASE_{missing[0]}.nii.gz)")
    item: dict[str, str | list[str]] = {"image": [str(found[c]) for c in BRATS_CONTRASTS]}
    if "seg" in found:
        item["label"] = str(found["seg"])
    return item


def _scan(folder: Path, layout: str, exclude: Path | None) -> list[dict[str, str | list[str]]]:
    """Items (under the key ``"image"``) of the inputs in ``folder``, then in its subfolders, in name order."""
    entries = _visible(folder)
    files = [p for p in entries if p.is_file()]
    if layout == "image" and any(_is_dicom_file(f) for f in files):
        return [{"image": str(folder)}]  # a DICOM series folder
    items: list[dict[str, str | list[str]]] = []
    if layout == "brats":
        case = [f for f in files if _BRATS.search(f.name)]
        if case:
            items.append(_brats_case(folder, case))
            files = [f for f in files if f not in case]
    for f in files:
        if layout in _KSPACE_RANK and f.suffix.lower() == ".h5":
            _check_fastmri(f, layout)
            items.append({"image": str(f)})
        elif layout not in _KSPACE_RANK and _NIFTI.search(f.name):
            items.append({"image": str(f)})
        elif not f.name.lower().endswith(IGNORED_SUFFIXES):
            raise InputError(f, f"not an input of this bundle, which reads {LAYOUTS[layout]}; move it out of {folder}")
    for sub in entries:
        if sub.is_dir() and (exclude is None or sub.resolve() != exclude):
            items += _scan(sub, layout, exclude)
    return items


def find_inputs(
    folder: str | os.PathLike, layout: str, exclude: str | os.PathLike | None = None
) -> list[dict[str, str | list[str]]]:
    """Every input of ``layout`` in ``folder`` and its subfolders (see the module docstring), in name order.

    Args:
        folder: the folder to search.
        layout: a key of :data:`LAYOUTS`.
        exclude: a folder not searched (e.g. the run's ``output_dir`` when it lies inside ``folder``).

    Returns:
        one dict per input with its file(s) under ``"image"`` (and a BraTS case's ``"label"``), paths absolute.

    Raises:
        InputError: ``folder`` does not exist, holds a file that is not an input (see the module docstring), an
            unreadable or incomplete input, or no input at all.

    Example::

        find_inputs("scans", "image")  # [{"image": "/abs/scans/a.nii.gz"}, {"image": "/abs/scans/series_1"}]
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    root = Path(folder).absolute()
    if not root.is_dir():
        raise InputError(root, "dataset_dir does not exist or is not a folder")
    items = _scan(root, layout, Path(exclude).resolve() if exclude is not None else None)
    if not items:
        raise InputError(root, f"folder holds no input: this bundle reads {LAYOUTS[layout]}")
    return items


def input_items(
    files: Sequence[str | os.PathLike], layout: str, base_dir: str | os.PathLike
) -> list[dict[str, str | list[str]]]:
    """One item per entry of ``files`` (see :func:`find_inputs` for the items), checking each is an input.

    Args:
        files: inputs of ``layout``: files, DICOM series folders or BraTS case folders; paths relative to
            ``base_dir`` or absolute, and inside ``base_dir`` (outputs keep the input's folder relative to it).
        layout: a key of :data:`LAYOUTS`.
        base_dir: the bundle's ``dataset_dir``.

    Raises:
        InputError: an empty list, or an entry that does not exist, lies outside ``base_dir``, or is not an input.
    """
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if not files:
        raise InputError("--files", "the list of files is empty")
    base = Path(os.path.normpath(Path(base_dir).absolute()))
    items = []
    for name in files:
        path = Path(os.path.normpath(base / name))
        if not path.exists():
            raise InputError(path, "file or folder does not exist")
        if not path.is_relative_to(base):
            raise InputError(path, f"lies outside dataset_dir {base}: set --dataset_dir to a folder holding it")
        if path.is_dir():
            found = _scan(path, layout, None)
            if len(found) != 1:
                raise InputError(path, f"a folder in --files must be one input, found {len(found)}")
            items += found
            continue
        if layout in _KSPACE_RANK and path.suffix.lower() == ".h5":
            _check_fastmri(path, layout)
        elif layout in _KSPACE_RANK or not (_NIFTI.search(path.name) or (layout == "image" and _is_dicom_file(path))):
            raise InputError(path, f"not an input of this bundle, which reads {LAYOUTS[layout]}")
        items.append({"image": str(path)})
    return items


def bundle_data_list(
    dataset_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    layout: str,
    key: str = "image",
    files: Sequence[str | os.PathLike] | None = None,
    split: str = "test",
    exclude: str | os.PathLike | None = None,
) -> list[dict]:
    """The items a bundle runs on: ``files``, else the datalist's ``split``, else every input in ``dataset_dir``.

    Args:
        dataset_dir: the bundle's ``dataset_dir``.
        datalist: the bundle's ``datalist``; used when it exists. A datalist other than
            ``dataset_dir/datalist.json`` must exist.
        layout: a key of :data:`LAYOUTS`: what an input is when there is no datalist.
        key: the item key of the input (e.g. ``"image"``, ``"multicoil"``, ``"t1w"``) when there is no datalist.
        files: inputs to run on instead (see :func:`input_items`); ``None`` or empty: not used.
        split: the datalist split.
        exclude: a folder the folder search skips (the run's ``output_dir``).

    Returns:
        datalist items as :func:`load_datalist_split` returns them, or ``{key: path}`` items (plus ``"label"`` for
        a BraTS case holding a ``*_seg`` file), paths absolute.

    Raises:
        InputError: see :func:`load_datalist_split`, :func:`find_inputs` and :func:`input_items`.

    Example::

        bundle_data_list("my_scans", "my_scans/datalist.json", "image")  # every NIfTI and DICOM series in my_scans
    """
    if files:
        items = input_items(files, layout, dataset_dir)
    elif os.path.isfile(datalist):
        return load_datalist_split(datalist, split, dataset_dir)
    elif Path(datalist).absolute() != Path(dataset_dir).absolute() / "datalist.json":
        raise InputError(datalist, "datalist file does not exist")
    else:
        items = find_inputs(dataset_dir, layout, exclude)
    return [{key if name == "image" else name: value for name, value in item.items()} for item in items]

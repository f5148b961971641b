"""Registration pairs from a ``make-data registration`` datalist, a pair dataset, and the engines' batch preparation.

A registration datalist is a MONAI datalist (``training``/``validation``/``test`` lists of
``{"subject", "image", "label", "ddf"}``) with a top-level ``atlas`` entry and ``test_pairs``. Pair entries use the
keys ``moving_image``, ``fixed_image``, ``moving_label``, ``fixed_label``, ``moving_subject`` and ``fixed_subject``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from itertools import permutations
from pathlib import Path
from typing import Any

import torch
from monai.data import Dataset, load_decathlon_datalist
from monai.engines import PrepareBatch
from monai.transforms import apply_transform
from monai.utils import convert_to_tensor, ensure_tuple

from mri_monai.data.datalists import bundle_data_list
from mri_monai.errors import InputError

__all__ = [
    "PAIR_MODES",
    "PairDataset",
    "PrepareRegistrationBatch",
    "bundle_registration_pairs",
    "pairs_of",
    "registration_pairs",
    "registration_subjects",
]

#: "atlas": the datalist's atlas is moving, each subject fixed; "subjects": subject k moving, subject k+1 fixed
#: (cyclic, as ``test_pairs``); "all": every ordered pair of subjects.
PAIR_MODES = ("atlas", "subjects", "all")


def _atlas(datalist: Path, base_dir: Path) -> dict[str, str]:
    atlas = json.loads(datalist.read_text()).get("atlas")
    if not isinstance(atlas, dict) or "image" not in atlas:
        raise InputError(datalist, "has no top-level 'atlas' entry with an 'image' (make-data registration writes one)")
    entry = {k: str(base_dir / v) if k in ("image", "label", "ddf") else v for k, v in atlas.items()}
    for key in ("image", "label"):
        if key in entry and not os.path.isfile(entry[key]):
            raise InputError(entry[key], "atlas file does not exist")
    return entry


def registration_subjects(
    datalist: str | os.PathLike, split: str = "training", include_atlas: bool = False, base_dir: str | None = None
) -> list[dict[str, Any]]:
    """The subjects of one split (absolute paths), optionally with the atlas appended.

    Args:
        datalist: the datalist JSON.
        split: ``"training"``, ``"validation"`` or ``"test"``.
        include_atlas: append the top-level ``atlas`` entry (subject ``"atlas"``).
        base_dir: folder the paths are relative to (default: the datalist's folder).

    Raises:
        InputError: the split (with the atlas, if asked) is empty, or a listed file is missing.
    """
    path = Path(datalist)
    base = Path(base_dir) if base_dir else path.parent
    try:
        subjects = load_decathlon_datalist(str(path), is_segmentation=True, data_list_key=split, base_dir=str(base))
    except (ValueError, KeyError) as e:
        raise InputError(path, f"cannot read split {split!r} ({e})") from None
    raw = json.loads(path.read_text())[split]
    for entry, original in zip(subjects, raw, strict=True):
        if "subject" in original:  # a name, which load_decathlon_datalist turns into a path when a folder matches
            entry["subject"] = original["subject"]
    if include_atlas:
        subjects.append(_atlas(path, base))
    if not subjects:
        raise InputError(path, f"split {split!r} is empty")
    for entry in subjects:
        for key in ("image", "label"):
            if key in entry and not os.path.isfile(entry[key]):
                raise InputError(entry[key], f"file listed in {path.name} does not exist")
    return subjects


def _pair(moving: dict, fixed: dict) -> dict[str, Any]:
    pair = {}
    for role, entry in (("moving", moving), ("fixed", fixed)):
        for key, value in entry.items():
            pair[f"{role}_{key}"] = value
    return pair


def registration_pairs(
    datalist: str | os.PathLike, split: str = "test", mode: str = "atlas", base_dir: str | None = None
) -> list[dict[str, Any]]:
    """Registration pairs over one split of a datalist.

    Args:
        datalist: the datalist JSON.
        split: ``"training"``, ``"validation"`` or ``"test"``.
        mode: one of :data:`PAIR_MODES`.
        base_dir: folder the paths are relative to (default: the datalist's folder).

    Returns:
        dicts with ``moving_image``, ``fixed_image``, ``moving_label``, ``fixed_label``, ``moving_subject``,
        ``fixed_subject`` (and ``*_ddf``), paths absolute.

    Raises:
        InputError: no pair can be formed (empty split, or one subject in ``"subjects"``/``"all"`` mode).
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"mode must be one of {PAIR_MODES}, got {mode!r}")
    subjects = registration_subjects(datalist, split, base_dir=base_dir)
    base = Path(base_dir) if base_dir else Path(datalist).parent
    atlas = _atlas(Path(datalist), base) if mode == "atlas" else None
    return pairs_of(subjects, mode, atlas, source=f"{datalist} split {split!r}")


def pairs_of(
    subjects: Sequence[dict], mode: str = "atlas", atlas: dict | None = None, source: str = "<subjects>"
) -> list[dict[str, Any]]:
    """Registration pairs of ``subjects`` in ``mode`` (see :data:`PAIR_MODES`), keys prefixed ``moving_``/``fixed_``.

    Args:
        subjects: subject dicts (``image``, optionally ``label``, ``subject``...).
        mode: ``"atlas"`` (``atlas`` moving, each subject fixed), ``"subjects"`` or ``"all"``.
        atlas: the atlas entry, needed in ``"atlas"`` mode.
        source: where the subjects come from, for messages.

    Raises:
        InputError: ``"atlas"`` mode without an atlas, or fewer than two subjects in the other modes.
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"mode must be one of {PAIR_MODES}, got {mode!r}")
    if mode == "atlas":
        if atlas is None:
            raise InputError(source, "pair_mode 'atlas' needs an atlas: pass --atlas FILE or --pair_mode subjects")
        return [_pair(atlas, s) for s in subjects]
    if len(subjects) < 2:
        raise InputError(source, f"{len(subjects)} subject: {mode!r} pairs need two or more")
    if mode == "subjects":
        return [_pair(s, subjects[(k + 1) % len(subjects)]) for k, s in enumerate(subjects)]
    return [_pair(m, f) for m, f in permutations(subjects, 2)]


def bundle_registration_pairs(
    dataset_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    mode: str = "atlas",
    split: str = "test",
    files: Sequence[str] | None = None,
    atlas: str | os.PathLike | None = None,
    exclude: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """The pairs a registration bundle runs on: from the datalist, or from a folder or list of images.

    With a datalist (and no ``files``) this is :func:`registration_pairs` (the atlas is the datalist's unless
    ``atlas`` is given). Otherwise the subjects are the NIfTI files and DICOM series in ``dataset_dir`` (or
    ``files``), found by :func:`~mri_monai.data.datalists.bundle_data_list`, each named by its file.

    Args:
        dataset_dir, datalist, split, files, exclude: as :func:`~mri_monai.data.datalists.bundle_data_list`.
        mode: one of :data:`PAIR_MODES`.
        atlas: an image used as the moving image of every pair in ``"atlas"`` mode.

    Raises:
        InputError: see :func:`~mri_monai.data.datalists.bundle_data_list` and :func:`pairs_of`; a missing atlas.
    """
    if not files and os.path.isfile(datalist) and atlas is None:
        return registration_pairs(datalist, split, mode)
    subjects = bundle_data_list(dataset_dir, datalist, "image", files=files, split=split, exclude=exclude)
    for entry in subjects:
        entry.setdefault("subject", Path(entry["image"]).name.split(".")[0])
    atlas_entry = None
    if atlas is not None:
        if not os.path.exists(atlas):
            raise InputError(atlas, "atlas file does not exist")
        atlas_entry = {"image": str(Path(atlas).absolute()), "subject": "atlas"}
    return pairs_of(subjects, mode, atlas_entry, source=str(dataset_dir))


class PairDataset(Dataset):
    """Ordered pairs of the subjects of another dataset (e.g. a ``CacheDataset`` of loaded subjects).

    Item ``k`` merges subject ``i`` as moving and subject ``j`` as fixed: each key ``x`` of a subject becomes
    ``moving_x`` / ``fixed_x`` (``image`` -> ``moving_image``...). Subjects are loaded (and cached) once, however
    many pairs use them.

    Args:
        subjects: a sequence (e.g. a MONAI dataset) of subject dicts.
        pairs: (moving index, fixed index) pairs; default every ordered pair of distinct subjects.
        transform: applied to each pair dict (e.g. random augmentation of the pair).
    """

    def __init__(
        self, subjects: Sequence[dict], pairs: Sequence[tuple[int, int]] | None = None, transform=None
    ) -> None:
        n = len(subjects)
        if n < 2:
            raise InputError("<subjects>", f"need at least two subjects to form pairs, got {n}")
        self.subjects = subjects
        self.pairs = [tuple(p) for p in pairs] if pairs is not None else list(permutations(range(n), 2))
        super().__init__(data=self.pairs, transform=transform)

    def _transform(self, index: int) -> dict:
        i, j = self.pairs[index]
        pair = _pair(self.subjects[i], self.subjects[j])
        return apply_transform(self.transform, pair) if self.transform is not None else pair


class PrepareRegistrationBatch(PrepareBatch):
    """Batch preparation for MONAI engines: network input ``cat(moving, fixed)`` and the loss target.

    Returns ``(inputs, target)``: inputs (B, 2, X, Y, Z) moving and fixed images; target (B, 4, X, Y, Z) moving
    image, fixed image, moving labels, fixed labels when both label keys hold loaded label maps (tensors; file names
    that were not loaded do not count), else (B, 2, X, Y, Z).
    Plain tensors (no meta), so the network and losses run at plain-tensor speed.

    Args:
        moving_key: key of the moving image (B, 1, X, Y, Z).
        fixed_key: key of the fixed image (B, 1, X, Y, Z).
        label_keys: keys of the moving and fixed label maps (B, 1, X, Y, Z).
    """

    def __init__(
        self,
        moving_key: str = "moving_image",
        fixed_key: str = "fixed_image",
        label_keys: Sequence[str] = ("moving_label", "fixed_label"),
    ) -> None:
        self.moving_key = moving_key
        self.fixed_key = fixed_key
        self.label_keys = ensure_tuple(label_keys)

    def __call__(
        self, batchdata: dict[str, torch.Tensor], device: str | torch.device | None = None, non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """(inputs, target) on ``device``."""

        def get(key: str) -> torch.Tensor:
            tensor = convert_to_tensor(batchdata[key], track_meta=False).float()
            return tensor.to(device=device, non_blocking=non_blocking, **kwargs)

        images = [get(self.moving_key), get(self.fixed_key)]
        inputs = torch.cat(images, dim=1)
        if all(isinstance(batchdata.get(k), torch.Tensor) for k in self.label_keys):
            return inputs, torch.cat(images + [get(k) for k in self.label_keys], dim=1)
        return inputs, inputs

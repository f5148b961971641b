"""MONAI datalist splits that fail loudly, with the datalist's name, when missing or empty."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monai.data import load_decathlon_datalist

from mri_monai.errors import InputError

__all__ = ["load_datalist_split"]


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

"""Finding the checkpoint to resume from."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["latest_checkpoint"]


def latest_checkpoint(ckpt_dir: str | os.PathLike, prefix: str = "checkpoint") -> str:
    """The full-state checkpoint with the highest iteration that MONAI's ``CheckpointSaver`` wrote in ``ckpt_dir``.

    ``CheckpointSaver(file_prefix=prefix, save_interval=N)`` names interval checkpoints
    ``<prefix>_iteration=<i>.pt`` (or ``_epoch=<e>.pt`` with ``epoch_level=True``) and the final one
    ``<prefix>_final_iteration=<i>.pt``; the one with the largest number wins (final over interval on a tie).

    Args:
        ckpt_dir: folder of the checkpoints.
        prefix: ``file_prefix`` given to the saver.

    Raises:
        FileNotFoundError: no checkpoint with this prefix in ``ckpt_dir``.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}_(final_iteration|iteration|epoch)=(\d+)\.pt$")
    found = []
    folder = Path(ckpt_dir)
    for path in folder.glob(f"{prefix}_*.pt") if folder.is_dir() else []:
        match = pattern.match(path.name)
        if match:
            found.append((int(match.group(2)), match.group(1) == "final_iteration", str(path)))
    if not found:
        raise FileNotFoundError(f"{folder}: no '{prefix}_*.pt' checkpoint to resume from")
    return max(found)[2]

"""Registration metrics on label maps and displacement fields.

Dice and HD95 are computed per label on one-hot masks (MONAI's :func:`~monai.metrics.compute_dice` and
:func:`~monai.metrics.compute_hausdorff_distance`), not on integer label maps as MONAI's OASIS tutorial does.
Field regularity is the fraction of voxels whose Jacobian determinant is not positive (folding) and the standard
deviation of the log-Jacobian (Learn2Reg's SDlogJ).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance

from mri_monai.data import jacobian_determinant

__all__ = ["dice_per_label", "hd95_per_label", "folding_percent", "std_log_jacobian", "registration_metrics"]


def _one_hot(labels: np.ndarray | torch.Tensor, values: Sequence[int]) -> torch.Tensor:
    """(X, Y, Z) integer labels -> (1, L, X, Y, Z) float one-hot masks of ``values``."""
    t = torch.as_tensor(np.asarray(labels))
    return torch.stack([t == v for v in values])[None].float()


def dice_per_label(pred: np.ndarray, ref: np.ndarray, labels: Sequence[int]) -> dict[int, float]:
    """Dice ``2 |P & R| / (|P| + |R|)`` of each label value, on one-hot masks.

    Args:
        pred: (X, Y, Z) integer labels (e.g. the warped moving labels).
        ref: (X, Y, Z) integer labels (the fixed labels).
        labels: label values to score (e.g. ``(1, 2, 3)``).

    Returns:
        label -> Dice; ``nan`` when the label is in neither map.
    """
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"label maps differ in shape: {np.shape(pred)} vs {np.shape(ref)}")
    scores = compute_dice(_one_hot(pred, labels), _one_hot(ref, labels), include_background=True, ignore_empty=True)
    return {int(v): float(s) for v, s in zip(labels, scores[0], strict=True)}


def hd95_per_label(
    pred: np.ndarray, ref: np.ndarray, labels: Sequence[int], spacing: Sequence[float]
) -> dict[int, float]:
    """95th-percentile symmetric Hausdorff distance (mm) of each label's surface.

    Args:
        pred: (X, Y, Z) integer labels.
        ref: (X, Y, Z) integer labels.
        labels: label values to score.
        spacing: voxel size (mm) along X, Y, Z.

    Returns:
        label -> HD95 in mm; ``nan`` when the label is missing from either map.
    """
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"label maps differ in shape: {np.shape(pred)} vs {np.shape(ref)}")
    p, r = _one_hot(pred, labels), _one_hot(ref, labels)
    with warnings.catch_warnings():  # MONAI 1.6 warns about its own internal use of a deprecated argument
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*")
        distances = compute_hausdorff_distance(
            p, r, include_background=True, percentile=95, spacing=[float(s) for s in spacing]
        )[0]
    present = (p.flatten(2).sum(-1) > 0) & (r.flatten(2).sum(-1) > 0)
    return {int(v): float(d) if ok else float("nan") for v, d, ok in zip(labels, distances, present[0], strict=True)}


def folding_percent(ddf: np.ndarray | torch.Tensor) -> float:
    """Percentage of voxels whose Jacobian determinant is <= 0 (folding).

    Args:
        ddf: (3, X, Y, Z) displacement in voxels.
    """
    return float(100.0 * np.mean(jacobian_determinant(ddf) <= 0))


def std_log_jacobian(ddf: np.ndarray | torch.Tensor, eps: float = 1e-9) -> float:
    """Standard deviation of ``log(det J)``, with ``det J`` clipped to ``[eps, 1/eps]`` (Learn2Reg's SDlogJ).

    Args:
        ddf: (3, X, Y, Z) displacement in voxels.
        eps: lower clip of the determinant (folded voxels count as ``log(eps)``).
    """
    return float(np.std(np.log(np.clip(jacobian_determinant(ddf), eps, 1.0 / eps))))


def registration_metrics(
    warped_labels: np.ndarray | None,
    fixed_labels: np.ndarray | None,
    ddf: np.ndarray,
    labels: dict[str, int],
    spacing: Sequence[float],
) -> dict[str, float]:
    """All comparison metrics of one registration result, as a flat row.

    Args:
        warped_labels: (X, Y, Z) moving labels warped to the fixed grid, or None (no label metrics).
        fixed_labels: (X, Y, Z) fixed labels, or None.
        ddf: (3, X, Y, Z) displacement in voxels.
        labels: name -> label value, e.g. ``{"csf": 1, "gm": 2, "wm": 3}``.
        spacing: fixed voxel size (mm).

    Returns:
        ``dice_<name>``, ``dice_mean``, ``hd95_<name>``, ``hd95_mean`` (mm) when labels are given, and
        ``folding_percent``, ``std_log_jacobian``.
    """
    row: dict[str, float] = {}
    if warped_labels is not None and fixed_labels is not None:
        values = list(labels.values())
        dice = dice_per_label(warped_labels, fixed_labels, values)
        hd95 = hd95_per_label(warped_labels, fixed_labels, values, spacing)
        for name, value in labels.items():
            row[f"dice_{name}"] = dice[value]
        row["dice_mean"] = float(np.nanmean(list(dice.values())))
        for name, value in labels.items():
            row[f"hd95_{name}"] = hd95[value]
        row["hd95_mean"] = float(np.nanmean(list(hd95.values())))
    row["folding_percent"] = folding_percent(ddf)
    row["std_log_jacobian"] = std_log_jacobian(ddf)
    return row

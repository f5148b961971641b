"""BraTS region metrics (Dice and HD95 of whole tumour, tumour core, enhancing tumour) and the bundle's case score."""

from __future__ import annotations

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses

__all__ = ["REGIONS", "brats_region_metrics", "segmentation_scores"]

#: the regions in the channel order of MONAI's ``ConvertToMultiChannelBasedOnBratsClasses``.
REGIONS = ("tc", "wt", "et")
_TO_REGIONS = ConvertToMultiChannelBasedOnBratsClasses()


def brats_region_metrics(
    prediction: torch.Tensor, reference: torch.Tensor, spacing: tuple[float, ...] | None = None
) -> dict[str, float]:
    """Dice and 95th-percentile Hausdorff distance (mm) of the BraTS regions of two label maps.

    Regions (MONAI's BraTS conversion): tumour core TC = labels 1 and 4, whole tumour WT = 1, 2 and 4, enhancing
    tumour ET = 4. A region empty in both maps scores Dice 1 and HD95 0; empty in one only, Dice 0 and HD95 NaN.

    Args:
        prediction: (1, X, Y, Z) or (X, Y, Z) BraTS label map (0, 1, 2, 4).
        reference: the same for the ground truth.
        spacing: voxel size in mm (default 1).

    Returns:
        ``{"dice_tc", "dice_wt", "dice_et", "hd95_tc", "hd95_wt", "hd95_et"}``.
    """
    pred = torch.as_tensor(_TO_REGIONS(prediction.squeeze()))[None].float()
    ref = torch.as_tensor(_TO_REGIONS(reference.squeeze()))[None].float()
    dice = compute_dice(pred, ref, include_background=True, ignore_empty=False)[0]
    hd = compute_hausdorff_distance(pred, ref, include_background=True, percentile=95, spacing=spacing)[0]
    out: dict[str, float] = {}
    for i, region in enumerate(REGIONS):
        p_any, r_any = bool(pred[0, i].any()), bool(ref[0, i].any())
        out[f"dice_{region}"] = float(dice[i]) if (p_any or r_any) else 1.0
        out[f"hd95_{region}"] = float(hd[i]) if (p_any and r_any) else (0.0 if not (p_any or r_any) else float("nan"))
    return out


def _spacing(image: torch.Tensor) -> tuple[float, ...] | None:
    affine = getattr(image, "affine", None)
    return None if affine is None else tuple(float(v) for v in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))


def segmentation_scores(image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """BraTS region Dice and HD95 (mm, at the reference's voxel size) of a label map: the case score.

    Args:
        image: (1, X, Y, Z) BraTS label map (0, 1, 2, 4).
        reference: the same for the ground truth, with its affine when it is a MetaTensor (default spacing 1).

    Returns:
        ``dice_mean`` (the mean of the three regions' Dice), ``dice_wt``, ``dice_tc``, ``dice_et``, ``hd95_wt``,
        ``hd95_tc``, ``hd95_et`` (see :func:`brats_region_metrics`).
    """
    scores = brats_region_metrics(image, reference, _spacing(reference))
    names = ("dice_mean", *(f"dice_{r}" for r in ("wt", "tc", "et")), *(f"hd95_{r}" for r in ("wt", "tc", "et")))
    scores["dice_mean"] = float(np.mean([scores[f"dice_{r}"] for r in REGIONS]))
    return {name: scores[name] for name in names}

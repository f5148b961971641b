"""BraTS region metrics (Dice, HD95 for whole tumour, tumour core, enhancing tumour) and the evaluation handler."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses

from mri_monai.case_metrics import CaseMetricsWriter

__all__ = ["REGIONS", "BratsRegionMetrics", "brats_region_metrics"]

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


class BratsRegionMetrics(CaseMetricsWriter):
    """Evaluation handler: BraTS region Dice/HD95 of the network and the baselines per case, written to files.

    See :class:`~mri_monai.case_metrics.CaseMetricsWriter` for the files. The metrics are ``dice_mean`` (the mean
    of the three regions' Dice, the primary metric), ``dice_wt``, ``dice_tc``, ``dice_et`` and ``hd95_*``; the
    summary's HD95 means are over the cases where it is defined.

    Args:
        output_dir: folder of the two files (created).
        methods: method name -> key of its (1, X, Y, Z) label map, e.g. ``{"network": "pred",
            "threshold": "threshold"}``; keys missing from the output (a comparison model without weights) are
            left out.
        reference_key: key of the ground-truth label map.
        baseline: the method the network is compared with.
    """

    metric_names = ("dice_mean", *(f"dice_{r}" for r in ("wt", "tc", "et")), *(f"hd95_{r}" for r in ("wt", "tc", "et")))

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        reference_key: str = "label",
        baseline: str = "threshold",
    ) -> None:
        super().__init__(output_dir, methods, reference_key, baseline, primary_metric="dice_mean")

    def score(self, image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
        """Dice and HD95 (mm) of the label map ``image`` against ``reference`` per region, and the mean Dice."""
        scores = brats_region_metrics(image, reference, _spacing(reference))
        scores["dice_mean"] = float(np.mean([scores[f"dice_{r}"] for r in REGIONS]))
        return scores

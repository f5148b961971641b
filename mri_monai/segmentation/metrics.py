"""BraTS region metrics (Dice, HD95 for whole tumour, tumour core, enhancing tumour) and the evaluation handler."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.metrics import compute_dice, compute_hausdorff_distance
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses
from monai.utils import ImageMetaKey

from mri_monai.data.atomic import write_metrics

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


class BratsRegionMetrics:
    """Evaluation handler: BraTS region Dice/HD95 of the network and the baselines per case, written to files.

    At each iteration it reads, for each (decollated) case, the reference label map and every method's label map
    from the engine's output or batch; when the engine completes it writes ``<output_dir>/metrics.csv`` (one row per
    case and method) and ``<output_dir>/metrics_summary.json`` (``{"primary_metric": "dice_mean", "higher_is_better":
    true, "baseline": ..., "methods": {name: {"dice_mean", "dice_wt", "dice_tc", "dice_et", "hd95_*"}}}``: means
    over the cases, HD95 over the cases where it is defined; ``dice_mean`` averages the three regions) and puts the
    summary in ``engine.state.metrics`` as ``<method>_<metric>``.

    Args:
        output_dir: folder of the two files (created).
        methods: method name -> key of its (1, X, Y, Z) label map, e.g. ``{"network": "pred",
            "threshold": "threshold"}``; keys missing from the output (a comparison model without weights) are
            left out.
        reference_key: key of the ground-truth label map.
        baseline: the method the network is compared with.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        methods: Mapping[str, str],
        reference_key: str = "label",
        baseline: str = "threshold",
    ) -> None:
        if baseline not in methods or "network" not in methods:
            raise ValueError(f"methods must name 'network' and the baseline {baseline!r}, got {sorted(methods)}")
        self.output_dir = Path(output_dir)
        self.methods = dict(methods)
        self.reference_key = reference_key
        self.baseline = baseline
        self.rows: list[dict] = []

    def attach(self, engine: Engine) -> None:
        """Register the per-iteration and the completion callbacks."""
        engine.add_event_handler(Events.STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def iteration_completed(self, engine: Engine) -> None:
        """Score every case of the batch."""
        for output, batch in zip(engine.state.output, engine.state.batch, strict=True):
            item = {**batch, **output}  # MONAI keeps keys that postprocessing changed in the batch
            reference = item[self.reference_key].detach().cpu()
            case = str(getattr(reference, "meta", {}).get(ImageMetaKey.FILENAME_OR_OBJ, len(self.rows)))
            for method, key in self.methods.items():
                if item.get(key) is None:
                    continue
                scores = brats_region_metrics(item[key].detach().cpu(), reference, _spacing(reference))
                scores["dice_mean"] = float(np.mean([scores[f"dice_{r}"] for r in REGIONS]))
                self.rows.append({"case": case, "method": method, **{k: round(v, 4) for k, v in scores.items()}})

    def summary(self) -> dict:
        """The summary dict written to ``metrics_summary.json``."""
        if not self.rows:
            raise RuntimeError("no case was evaluated: is the test split empty?")
        metrics = ["dice_mean", *(f"dice_{r}" for r in ("wt", "tc", "et")), *(f"hd95_{r}" for r in ("wt", "tc", "et"))]
        methods = {}
        for method in dict.fromkeys(r["method"] for r in self.rows):
            rows = [r for r in self.rows if r["method"] == method]
            methods[method] = {m: round(float(np.nanmean([r[m] for r in rows])), 4) for m in metrics}
        return {"primary_metric": "dice_mean", "higher_is_better": True, "baseline": self.baseline, "methods": methods}

    def completed(self, engine: Engine) -> None:
        """Write ``metrics.csv`` and ``metrics_summary.json``."""
        summary = write_metrics(self.output_dir, self.rows, self.summary())
        for method, values in summary["methods"].items():
            for metric, value in values.items():
                engine.state.metrics[f"{method}_{metric}"] = value

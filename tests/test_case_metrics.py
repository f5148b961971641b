"""The shared evaluation handler: rows, means, groups, missing methods and files, on a tiny Ignite engine."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from mri_monai.case_metrics import CaseMetricsWriter
from mri_monai.denoising.metrics import EnhancementMetricsSaver
from mri_monai.recon import ReconstructionMetricsWriter


class MeanError(CaseMetricsWriter):
    metric_names = ("mae", "bias")

    def score(self, image, reference):
        return {"bias": float((image - reference).mean()), "mae": float((image - reference).abs().mean())}


def _run(handler, items):
    """Run ``handler`` on an engine whose iterations each yield one decollated (batch, output) item pair."""
    engine = Engine(lambda e, batch: [{"pred": batch[0].pop("pred")}] if "pred" in batch[0] else [{}])
    handler.attach(engine)
    engine.run([[item] for item in items], max_epochs=1)
    return engine


def _case(name, reference, **images):
    return {"label": MetaTensor(reference, meta={"filename_or_obj": name}), **images}


def test_rows_means_files_and_engine_metrics(tmp_path):
    ref = torch.zeros(1, 4, 4)
    items = [
        _case("a.nii.gz", ref, pred=ref + 1.0, base=ref + 2.0),
        _case("b.nii.gz", ref, pred=ref - 3.0, base=None),  # a comparison without output is left out
    ]
    handler = MeanError(tmp_path / "eval", {"network": "pred", "baseline": "base"}, primary_metric="mae",
                        higher_is_better=False)  # fmt: skip
    engine = _run(handler, items)
    rows = list(csv.DictReader((tmp_path / "eval" / "metrics.csv").read_text().splitlines()))
    assert [(r["case"], r["method"]) for r in rows] == [("a.nii.gz", "network"), ("a.nii.gz", "baseline"),
                                                         ("b.nii.gz", "network")]  # fmt: skip
    assert list(rows[0]) == ["case", "method", "mae", "bias"]
    summary = json.loads((tmp_path / "eval" / "metrics_summary.json").read_text())
    assert summary == {
        "primary_metric": "mae",
        "higher_is_better": False,
        "baseline": "baseline",
        "methods": {"network": {"mae": 2.0, "bias": -1.0}, "baseline": {"mae": 2.0, "bias": 2.0}},
    }
    assert engine.state.metrics["network_bias"] == -1.0


def test_a_second_run_starts_afresh_and_bad_setups_raise(tmp_path):
    ref = torch.zeros(1, 4, 4)
    handler = MeanError(tmp_path, {"network": "pred", "baseline": "pred"})
    _run(handler, [_case("a", ref, pred=ref + 1)])
    _run(handler, [_case("b", ref, pred=ref + 5)])
    assert json.loads((tmp_path / "metrics_summary.json").read_text())["methods"]["network"]["mae"] == 5.0
    with pytest.raises(ValueError, match="baseline 'nlm'"):
        MeanError(tmp_path, {"network": "pred"}, baseline="nlm")
    with pytest.raises(ValueError, match="primary_metric"):
        MeanError(tmp_path, {"network": "pred", "baseline": "pred"}, primary_metric="psnr")
    with pytest.raises(ValueError, match="no reference"):
        _run(MeanError(tmp_path, {"network": "pred", "baseline": "pred"}), [{"label": None, "pred": ref}])
    with pytest.raises(RuntimeError, match="no case was evaluated"):
        MeanError(tmp_path / "empty", {"network": "pred", "baseline": "pred"}).summary()


def test_enhancement_metrics_are_grouped_by_noise_level(tmp_path):
    reference = torch.zeros(1, 16, 16, 2)
    reference[:, 2:14, 2:14] = 1.0
    items = []
    for level, error in ((0.03, 0.01), (0.1, 0.1)):
        noisy = reference + error * torch.randn(reference.shape, generator=torch.Generator().manual_seed(0))
        items.append({**_case("s.nii.gz", reference, pred=noisy), "image": noisy, "noise_level": level})
    _run(EnhancementMetricsSaver(tmp_path, {"network": "pred", "noisy": "image"}, baseline="noisy"), items)
    summary = json.loads((tmp_path / "metrics_summary.json").read_text())
    network = summary["methods"]["network"]
    assert network["psnr_3pct"] > network["psnr_10pct"] + 15  # 10x the noise: 20 dB less
    assert network["psnr"] == pytest.approx((network["psnr_3pct"] + network["psnr_10pct"]) / 2, abs=1e-3)
    assert summary["cases"] == 1
    assert next(csv.DictReader((tmp_path / "metrics.csv").read_text().splitlines()))["noise_level"] == "0.03"


def test_reconstruction_metrics_are_grouped_by_acceleration_and_acquisition(tmp_path):
    reference = torch.zeros(2, 16, 16)
    reference[:, 4:12, 4:12] = 1.0
    items = []
    for name, label, errors in (("a.h5", "AXT2", {4: 0.01, 8: 0.02}), ("b.h5", "AXT1", {4: 0.04, 8: 0.08})):
        for acceleration, error in errors.items():
            pred = reference + error
            items.append(
                {
                    "target": reference,
                    "pred": pred,
                    "zero_filled": reference + 0.5,
                    "filename": name,
                    "acquisition": label,
                    "acceleration": acceleration,
                    "real_acceleration": acceleration,
                }
            )
    untagged = [{k: v for k, v in item.items() if k != "acquisition"} for item in items[:1]]
    _run(ReconstructionMetricsWriter(tmp_path, {"network": "pred", "zero_filled": "zero_filled"}), items)
    summary = json.loads((tmp_path / "metrics_summary.json").read_text())
    rows = list(csv.DictReader((tmp_path / "metrics.csv").read_text().splitlines()))
    assert list(rows[0])[:5] == ["case", "acquisition", "acceleration", "real_acceleration", "method"]
    assert summary["cases"] == 4 and sorted(summary["by_acquisition"]) == ["AXT1", "AXT2"]
    t2, t1 = summary["by_acquisition"]["AXT2"], summary["by_acquisition"]["AXT1"]
    assert t2["files"] == 1 and sorted(t2) == ["4x", "8x", "files"]
    # a constant offset e costs PSNR 20 log10(1 / e): 40 dB at 0.01, 28 dB at 0.04
    assert t2["4x"]["network"]["psnr"] == pytest.approx(40.0, abs=0.01)
    assert t1["4x"]["network"]["psnr"] == pytest.approx(27.96, abs=0.01)
    overall = summary["by_acceleration"]["4x"]["network"]["psnr"]
    assert overall == pytest.approx((t2["4x"]["network"]["psnr"] + t1["4x"]["network"]["psnr"]) / 2, abs=1e-3)
    _run(ReconstructionMetricsWriter(tmp_path / "u", {"network": "pred", "zero_filled": "zero_filled"}), untagged)
    untagged_summary = json.loads((tmp_path / "u" / "metrics_summary.json").read_text())
    assert list(untagged_summary["by_acquisition"]) == ["unknown"]
    assert untagged_summary["by_acquisition"]["unknown"]["4x"]["network"]["psnr"] == pytest.approx(40.0, abs=0.01)

"""The one evaluation contract: the table's rows and summary, and the handler on a tiny Ignite engine."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from mri_monai.case_metrics import SUMMARY_KEYS, CaseMetricsWriter, MetricsTable
from mri_monai.denoising.noise import level_name
from mri_monai.metrics import denoising_scores, reconstruction_scores


def mean_error(image, reference):
    return {"mae": float((image - reference).abs().mean()), "bias": float((image - reference).mean())}


def _run(handler, items):
    """Run ``handler`` on an engine whose iterations each yield one decollated (batch, output) item pair."""
    engine = Engine(lambda e, batch: [{"pred": batch[0].pop("pred")}] if "pred" in batch[0] else [{}])
    handler.attach(engine)
    engine.run([[item] for item in items], max_epochs=1)
    return engine


def _case(name, reference, **images):
    return {"label": MetaTensor(reference, meta={"filename_or_obj": name}), **images}


def _files(folder):
    rows = list(csv.DictReader((folder / "metrics.csv").read_text().splitlines()))
    return rows, json.loads((folder / "metrics_summary.json").read_text())


def test_rows_means_files_and_engine_metrics(tmp_path):
    ref = torch.zeros(1, 4, 4)
    items = [
        _case("a.nii.gz", ref, pred=ref + 1.0, base=ref + 2.0),
        _case("b.nii.gz", ref, pred=ref - 3.0, base=None),  # a comparison without output is left out
    ]
    handler = CaseMetricsWriter(tmp_path / "eval", {"network": "pred", "baseline": "base"}, mean_error, "mae",
                                higher_is_better=False, details={"note": "toy"})  # fmt: skip
    engine = _run(handler, items)
    rows, summary = _files(tmp_path / "eval")
    assert [(r["case"], r["method"]) for r in rows] == [("a.nii.gz", "network"), ("a.nii.gz", "baseline"),
                                                         ("b.nii.gz", "network")]  # fmt: skip
    assert list(rows[0]) == ["case", "method", "mae", "bias"]
    assert summary == {
        "primary_metric": "mae",
        "higher_is_better": False,
        "baseline": "baseline",
        "cases": 2,
        "methods": {"network": {"mae": 2.0, "bias": -1.0}, "baseline": {"mae": 2.0, "bias": 2.0}},
        "details": {"note": "toy"},
    }
    assert tuple(summary) == SUMMARY_KEYS
    assert engine.state.metrics["network_bias"] == -1.0


def test_a_second_run_starts_afresh_and_bad_setups_raise(tmp_path):
    ref = torch.zeros(1, 4, 4)
    methods = {"network": "pred", "baseline": "pred"}
    handler = CaseMetricsWriter(tmp_path, methods, mean_error, "mae")
    _run(handler, [_case("a", ref, pred=ref + 1)])
    _run(handler, [_case("b", ref, pred=ref + 5)])
    assert _files(tmp_path)[1]["methods"]["network"]["mae"] == 5.0
    with pytest.raises(ValueError, match="baseline 'nlm'"):
        CaseMetricsWriter(tmp_path, {"network": "pred"}, mean_error, "mae", baseline="nlm")
    with pytest.raises(ValueError, match="no primary metric 'psnr'"):
        _run(CaseMetricsWriter(tmp_path / "p", methods, mean_error, "psnr"), [_case("a", ref, pred=ref)])
    with pytest.raises(ValueError, match="no reference"):
        _run(CaseMetricsWriter(tmp_path, methods, mean_error, "mae"), [{"label": None, "pred": ref}])
    with pytest.raises(RuntimeError, match="no case was evaluated"):
        MetricsTable("mae").summary()


def test_denoising_metrics_are_grouped_by_noise_level(tmp_path):
    reference = torch.zeros(1, 16, 16, 2)
    reference[:, 2:14, 2:14] = 1.0
    items = []
    for level, error in ((0.03, 0.01), (0.1, 0.1)):
        noisy = reference + error * torch.randn(reference.shape, generator=torch.Generator().manual_seed(0))
        items.append({**_case("s.nii.gz", reference, pred=noisy), "image": noisy, "noise_level": torch.tensor(level)})
    handler = CaseMetricsWriter(tmp_path, {"network": "pred", "noisy": "image"}, denoising_scores, "psnr",
                                baseline="noisy", conditions={"noise_level": level_name})  # fmt: skip
    _run(handler, items)
    rows, summary = _files(tmp_path)
    network = summary["methods"]["network"]
    assert list(network) == ["psnr", "ssim", "psnr_3pct", "ssim_3pct", "psnr_10pct", "ssim_10pct"]
    assert network["psnr_3pct"] > network["psnr_10pct"] + 15  # 10x the noise: 20 dB less
    assert network["psnr"] == pytest.approx((network["psnr_3pct"] + network["psnr_10pct"]) / 2, abs=1e-3)
    assert summary["cases"] == 1
    assert list(rows[0]) == ["case", "noise_level", "method", "psnr", "ssim"] and rows[0]["noise_level"] == "3pct"


def test_reconstruction_metrics_are_grouped_by_acquisition_acceleration_and_both(tmp_path):
    reference = torch.zeros(2, 16, 16)
    reference[:, 4:12, 4:12] = 1.0
    items = []
    for name, label, errors in (("a.h5", "AXT2", {4: 0.01, 8: 0.02}), ("b.h5", "AXT1", {4: 0.04, 8: 0.08})):
        for acceleration, error in errors.items():
            items.append({"target": reference, "pred": reference + error, "zero_filled": reference + 0.5,
                          "filename": name, "acquisition": label, "acceleration": acceleration,
                          "real_acceleration": acceleration + 0.123456})  # fmt: skip
    handler = CaseMetricsWriter(
        tmp_path, {"network": "pred", "zero_filled": "zero_filled"}, reconstruction_scores, "ssim",
        reference_key="target", baseline="zero_filled", conditions={"acquisition": "{}", "acceleration": "{:g}x"},
        columns=["real_acceleration"], case_key="filename",
    )  # fmt: skip
    _run(handler, items)
    rows, summary = _files(tmp_path)
    assert list(rows[0]) == ["case", "acquisition", "acceleration", "method", "nmse", "psnr", "ssim",
                             "real_acceleration"]  # fmt: skip
    assert (rows[0]["case"], rows[0]["acceleration"], rows[0]["real_acceleration"]) == ("a.h5", "4x", "4.1235")
    network = summary["methods"]["network"]
    assert summary["cases"] == 2
    # a constant offset e costs PSNR 20 log10(1 / e): 40 dB at 0.01, 28 dB at 0.04
    assert network["psnr_AXT2_4x"] == pytest.approx(40.0, abs=0.01)
    assert network["psnr_AXT1_4x"] == pytest.approx(27.96, abs=0.01)
    assert network["psnr_4x"] == pytest.approx((network["psnr_AXT2_4x"] + network["psnr_AXT1_4x"]) / 2, abs=1e-3)
    assert network["psnr_AXT2"] == pytest.approx((network["psnr_AXT2_4x"] + network["psnr_AXT2_8x"]) / 2, abs=1e-3)


def test_a_table_takes_set_metrics_and_checks_its_conditions(tmp_path):
    table = MetricsTable("fd", higher_is_better=False, baseline="mean", conditions=("direction",))
    table.add("s1", "network", {}, conditions={"direction": "t1_to_t2"}, columns={"ncc": 0.5})
    with pytest.raises(ValueError, match="conditions"):
        table.add("s1", "network", {"ssim": 1.0})
    summary = table.write(tmp_path, set_metrics={"network": {"fd": 0.1}, "mean": {"fd": 0.3}})
    assert summary["methods"] == {"network": {"fd": 0.1}, "mean": {"fd": 0.3}}
    assert list(_files(tmp_path)[0][0]) == ["case", "direction", "method", "ncc"]

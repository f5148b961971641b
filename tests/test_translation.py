"""Translation helpers: bidirectional generator, unpaired datalists, baselines and metrics; the bundle's inference
figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from monai.bundle import ConfigParser

from mri_monai.bundle_run import run_bundle
from mri_monai.generative import (
    BidirectionalGenerator,
    InvertedHistogramMatching,
    SliceTranslator,
    TranslationEvaluation,
    unpaired_datalist,
)
from mri_monai.metrics import mutual_information, translation_metrics
from mri_monai.networks.resnet_generator import ResnetGenerator

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "brain_mri_t1_t2_translation"


def _gen() -> ResnetGenerator:
    return ResnetGenerator(spatial_dims=2, base_channels=4, num_downsamplings=2, num_residual_blocks=1)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_resnet_generator_shapes_and_range(spatial_dims):
    net = ResnetGenerator(spatial_dims=spatial_dims, base_channels=4, num_residual_blocks=1)
    shape = (2, 1, *([16] * spatial_dims))
    out = net(torch.randn(shape))
    assert out.shape == shape and out.abs().max() <= 1


def test_bidirectional_generator_direction_and_torchscript():
    a_to_b, b_to_a = _gen(), _gen()
    x = torch.randn(1, 1, 32, 32)
    forward = BidirectionalGenerator(a_to_b, b_to_a, "a_to_b")
    backward = BidirectionalGenerator(a_to_b, b_to_a, "b_to_a")
    assert torch.equal(forward(x), a_to_b(x)) and torch.equal(backward(x), b_to_a(x))
    assert set(forward.state_dict()) == {f"a_to_b.{k}" for k in a_to_b.state_dict()} | {
        f"b_to_a.{k}" for k in b_to_a.state_dict()
    }
    assert torch.allclose(torch.jit.script(backward)(x), b_to_a(x))
    with pytest.raises(ValueError, match="direction"):
        BidirectionalGenerator(a_to_b, b_to_a, "sideways")


def test_unpaired_datalist_never_pairs_a_subject_with_itself():
    entries = [{"subject": f"s{i}", "t1w": f"{i}/t1.nii.gz", "t2w": f"{i}/t2.nii.gz"} for i in range(5)]
    items = unpaired_datalist(entries, "t1w", "t2w")
    assert len(items) == 3
    assert all(item["subject_a"] != item["subject_b"] for item in items)
    assert {item["subject_a"] for item in items} == {"s0", "s1", "s2"}
    assert {item["subject_b"] for item in items} == {"s3", "s4"}
    with pytest.warns(UserWarning, match="one training subject"):
        assert len(unpaired_datalist(entries[:1], "t1w", "t2w")) == 1
    with pytest.raises(ValueError, match="empty"):
        unpaired_datalist([], "t1w", "t2w")


def test_inverted_histogram_matching_reverses_order_and_matches_the_reference():
    torch.manual_seed(0)
    source = torch.zeros(1, 1, 10, 10, 10)
    source[..., 2:8, 2:8, 2:8] = torch.rand(6, 6, 6) + 0.1
    reference = [np.random.default_rng(0).uniform(0.5, 1.0, 1000)]
    out = InvertedHistogramMatching(reference)(source)
    inside = source > 0
    assert (out[~inside] == 0).all()
    assert out[inside].min() >= 0.5 and out[inside].max() <= 1.0
    flat_source, flat_out = source[inside], out[inside]
    assert flat_out[flat_source.argmax()] == flat_out.min() and flat_out[flat_source.argmin()] == flat_out.max()


def test_translation_metrics_perfect_and_worse():
    target = torch.rand(1, 1, 16, 16, 16)
    perfect = translation_metrics(target, target)
    assert perfect["mae"] == 0 and perfect["ssim"] == pytest.approx(1.0, abs=1e-4)
    worse = translation_metrics(target.flip(-1), target)
    assert worse["ssim"] < perfect["ssim"] and worse["psnr"] < perfect["psnr"] and worse["mi"] < perfect["mi"]
    assert mutual_information(target, target) > mutual_information(target, torch.rand(1, 1, 16, 16, 16))


def test_translation_evaluation_writes_metrics(tmp_path):
    t1 = torch.rand(1, 1, 32, 32, 12)
    batch = {"subject": ["s0"], "t1w": t1, "t2w": 1 - t1}
    net = BidirectionalGenerator(_gen(), _gen())
    methods = {
        "network": {"t1_to_t2": SliceTranslator(net.a_to_b, (32, 32)), "t2_to_t1": SliceTranslator(net.b_to_a)},
        "histogram_matching": {"t1_to_t2": InvertedHistogramMatching([1 - t1]), "t2_to_t1": lambda x: 1 - x},
    }
    directions = {"t1_to_t2": ("t1w", "t2w"), "t2_to_t1": ("t2w", "t1w")}
    summary = TranslationEvaluation([batch], methods, directions, tmp_path, "ssim_t1_to_t2").run()
    assert summary == json.loads((tmp_path / "metrics_summary.json").read_text())
    assert summary["primary_metric"] == "ssim_t1_to_t2" and summary["higher_is_better"] and summary["cases"] == 1
    histogram = summary["methods"]["histogram_matching"]
    assert histogram["mae_t2_to_t1"] == 0
    assert histogram["mae"] == pytest.approx((histogram["mae_t1_to_t2"] + histogram["mae_t2_to_t1"]) / 2, abs=1e-4)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "case,direction,method,mae,psnr,ssim,mi" and len(lines) == 1 + 4


def test_learning_rate_is_constant_then_decays_linearly_and_resumes():
    """CycleGAN's schedule: ``decay_start_epoch`` epochs at the full rate, then a linear decay towards zero; both
    schedulers are in the full-state checkpoint, so a resumed run continues the decay."""
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "train.json"))
    parser.update({"epochs": 10, "decay_start_epoch": 4, "bundle_root": str(BUNDLE), "device": "cpu"})
    factors = [parser.get_parsed_content("lr_lambda")(epoch) for epoch in range(10)]
    assert factors[:4] == [1.0] * 4
    assert np.allclose(np.diff(factors[3:]), -1 / 7) and 0 < factors[-1] < 0.15
    for net in ("g", "d"):
        scheduler = parser.get_parsed_content(f"{net}_lr_scheduler")
        assert scheduler.optimizer is parser.get_parsed_content(f"{net}_optimizer")
        assert parser[f"train#checkpoint_objects#{net}_lr_scheduler"] == f"@{net}_lr_scheduler"
        assert any(h.get("lr_scheduler") == f"@{net}_lr_scheduler" for h in parser["train#handlers"])


@pytest.fixture(scope="module")
def translation_data(tmp_path_factory) -> Path:
    """Three generated translation subjects (seed 17, not in the demo data): the dataset folder."""
    from mri_monai.data.tasks import make_task_data

    out = tmp_path_factory.mktemp("translation") / "data"
    return make_task_data("translation", out, subjects=3, seed=17, progress=False).parent


def _train_parser(data: Path, ckpt: Path, *extra_configs: str, **overrides) -> ConfigParser:
    """``train.json`` (and ``extra_configs`` merged onto it) with tiny networks and 32x32 slices on ``data``."""
    parser = ConfigParser()
    parser.read_config([str(BUNDLE / "configs" / name) for name in ("train.json", *extra_configs)])
    parser.update({"bundle_root": str(BUNDLE), "dataset_dir": str(data), "ckpt_dir": str(ckpt), "device": "cpu",
                   "num_workers": 0, "base_channels": 4, "residual_blocks": 1, "discriminator_channels": 4,
                   "slice_size": [32, 32], **overrides})  # fmt: skip
    return parser


def _run(parser: ConfigParser) -> dict:
    """Run the parsed workflow; return the EMA and raw generator weights seen at the first iteration's start
    (``ema``, ``raw``) and the raw generator weights after every iteration (``steps``)."""
    from ignite.engine import Events

    parser.get_parsed_content("initialize")
    trainer, ema = parser.get_parsed_content("train#trainer"), parser.get_parsed_content("train#handlers#0")
    network = parser.get_parsed_content("network_def")
    seen: dict = {"steps": []}

    @trainer.on(Events.ITERATION_STARTED)
    def _record(engine) -> None:
        if "ema" not in seen:
            seen["ema"] = {k: v.clone() for k, v in ema.ema_model.state_dict().items()}
            seen["raw"] = {k: v.clone() for k, v in network.state_dict().items()}

    @trainer.on(Events.ITERATION_COMPLETED)
    def _step(engine) -> None:
        seen["steps"].append({k: v.clone() for k, v in network.state_dict().items()})

    parser.get_parsed_content("run")
    return seen


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_shipped_model_is_the_generator_ema_and_resumes_with_it(translation_data, tmp_path, one_thread_cpu):
    """``model.pt`` is the exponential moving average of the generator weights (``model_raw.pt`` the generator); the
    average is in the full-state checkpoint, so a killed run resumes it instead of restarting it from the raw
    weights."""
    ckpt = tmp_path / "models"
    common = {"iterations_per_epoch": 3, "save_interval": 3, "ema_momentum": 0.3}
    first = _run(_train_parser(translation_data, ckpt, epochs=2, **common))
    load = lambda name: torch.load(ckpt / name, weights_only=True)  # noqa: E731
    final = load("checkpoint_final_iteration=6.pt")
    model, raw = load("model.pt"), load("model_raw.pt")
    assert _equal(model, final["network_ema"]) and _equal(raw, final["network"])
    differs = [k for k in model if model[k].is_floating_point() and not torch.allclose(model[k], raw[k])]
    assert len(differs) > len(model) // 2  # the average lags the generator
    expected = dict(first["raw"])  # the average starts at the initial weights: e_t = 0.7 e_(t-1) + 0.3 w_t
    for weights in first["steps"]:
        expected = {k: 0.7 * expected[k] + 0.3 * weights[k] for k in expected}
    assert len(first["steps"]) == 6
    assert all(torch.allclose(model[k], expected[k], atol=1e-6) for k in model if model[k].is_floating_point())

    seen = _run(_train_parser(translation_data, ckpt, epochs=3, resume=True, **common))
    assert _equal(seen["ema"], final["network_ema"]) and _equal(seen["raw"], final["network"])
    assert not _equal(load("model.pt"), model)  # the third epoch moved the average on
    assert torch.load(ckpt / "checkpoint_final_iteration=9.pt", weights_only=True)["trainer"]["iteration"] == 9


def test_paired_reference_writes_its_generator_only(translation_data, tmp_path, one_thread_cpu):
    """The paired config (merged onto ``train.json``) disables the weight average and the raw copy: it writes the
    raw paired generator and builds no CycleGAN generator (so its initial weights do not depend on them)."""
    ckpt = tmp_path / "models"
    parser = _train_parser(translation_data, ckpt, "train_paired_reference.json", epochs=1, iterations_per_epoch=2,
                           paired_direction="t2_to_t1")  # fmt: skip
    parser.get_parsed_content("initialize")
    parser.get_parsed_content("run")
    assert "network_def" not in parser.ref_resolver.resolved_content
    written = torch.load(ckpt / "paired_reference_t2_to_t1.pt", weights_only=True)
    trained = parser.get_parsed_content("paired_generator_def").state_dict()
    assert _equal(written, trained)
    assert sorted(p.name for p in ckpt.iterdir()) == ["checkpoint_final_iteration=2.pt", "paired_reference_t2_to_t1.pt"]


@pytest.mark.slow
@pytest.mark.parametrize("direction, source, target", [("t1_to_t2", "t1w", "t2w"), ("t2_to_t1", "t2w", "t1w")])
def test_inference_writes_a_figure_per_case(translation_data, tmp_path, one_thread_cpu, png_panels, direction,
                                            source, target):  # fmt: skip
    full = json.loads((translation_data / "datalist.json").read_text())
    without_reference = {k: v for k, v in full["validation"][0].items() if k != target}  # the input contrast only
    datalist = translation_data / f"datalist_{direction}.json"
    datalist.write_text(json.dumps({"test": [full["test"][0], without_reference]}))
    out = tmp_path / "out"
    run = run_bundle(BUNDLE, "inference", translation_data, out, {"direction": direction, "datalist": str(datalist)})
    assert run.ok, run.error(40)
    for entry in (full["test"][0], without_reference):
        name = Path(entry[source])
        png = out / name.parent / name.name.replace(".nii.gz", "_translated.png")
        assert png.is_file() and png.with_name(name.name.replace(".nii.gz", "_translated.nii.gz")).is_file()
        height, width, _ = imread(png).shape
        panels = png_panels(png)  # input, translated (, reference): the same axial slice
        assert len(panels) == (3 if target in entry else 2)
        assert 200 <= height <= 1000 and 200 * len(panels) <= width <= 1000 * len(panels)
        assert panels[0].shape[0] > 0.6 * height  # the panels are the slices, not titles
        assert np.abs(panels[1] - panels[0]).mean() > 0.1  # another contrast, not the input
        if target in entry:  # the output is closer to the true contrast than the input is
            input_error, output_error = (np.abs(panels[i] - panels[2]).mean() for i in (0, 1))
            assert output_error < 0.5 * input_error, (output_error, input_error)

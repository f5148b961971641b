"""The named functions the bundle configs call with ``_target_`` instead of ``$`` expressions (issue #30)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events
from ignite.handlers import ProgressBar
from monai.bundle import ConfigParser
from monai.handlers import CheckpointLoader

from mri_monai.engines import (
    LinearDecay,
    attach_handlers,
    default_device,
    every_n_iterations,
    is_true,
    loss_items,
    progress_bars,
    resume_loader,
    threads_from_environment,
)
from mri_monai.generative import (
    dcgan_init,
    generator_direction,
    seeded_latents,
    slice_items,
    source_key,
    target_key,
    translation_cases,
    translation_titles,
    unpaired_reference_images,
)
from mri_monai.networks.weights import load_state
from mri_monai.recon import with_accelerations
from mri_monai.segmentation import with_reference

ROOT = Path(__file__).resolve().parents[1]
OWN = [
    "brain_mri_cascade_reconstruction",
    "brain_mri_varnet_reconstruction",
    "brain_mri_voxelmorph_registration",
    "brats_mri_vox2vox_segmentation",
    "brain_mri_t1_t2_translation",
    "brain_mri_t1_slice_synthesis",
]


def test_default_device_and_threads(monkeypatch):
    assert default_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert threads_from_environment() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert threads_from_environment() == 1  # unset: the current number is kept
    finally:
        torch.set_num_threads(before)


FLAGS = [(True, True), (1, True), ("true", True), ("TRUE", True), ("1", True)]
FLAGS += [(False, False), (0, False), ("false", False), ("False", False), (None, False)]


@pytest.mark.parametrize(("value", "on"), FLAGS)
def test_is_true_and_progress_bars(value, on):
    assert is_true(value) is on
    bars = progress_bars(value)
    assert len(bars) == int(on) and all(isinstance(b, ProgressBar) for b in bars)


def test_every_n_iterations_and_loss_items():
    log = every_n_iterations(3)
    assert [i for i in range(1, 10) if log(None, i)] == [3, 6, 9]
    with pytest.raises(ValueError):
        every_n_iterations(0)
    out = {"g_loss": 0.5, "d_loss": 0.25, "fakes": torch.zeros(1), "lossy": 1}
    assert loss_items(out) == {"g_loss": 0.5, "d_loss": 0.25}


def test_attach_handlers_skips_none_and_keeps_order():
    engine, seen = Engine(lambda e, b: None), []

    class Handler:
        def __init__(self, name):
            self.name = name

        def attach(self, engine):
            engine.add_event_handler(Events.STARTED, lambda _: seen.append(self.name))

    handlers = attach_handlers([Handler("a"), None, Handler("b")], engine)
    assert [h.name for h in handlers] == ["a", "b"]
    assert attach_handlers(None, engine) == []
    engine.run([0], max_epochs=1)
    assert seen == ["a", "b"]


def test_resume_loader(tmp_path):
    net = torch.nn.Linear(2, 1)
    assert resume_loader(False, tmp_path, {"model": net}) is None
    with pytest.raises(FileNotFoundError):
        resume_loader(True, tmp_path, {"model": net})
    for name in ("checkpoint_iteration=4.pt", "checkpoint_iteration=12.pt", "no_gan_checkpoint_iteration=20.pt"):
        torch.save({"model": net.state_dict()}, tmp_path / name)
    loader = resume_loader(True, tmp_path, {"model": net}, map_location="cpu")
    assert isinstance(loader, CheckpointLoader) and loader.load_path.endswith("checkpoint_iteration=12.pt")
    assert resume_loader(True, tmp_path, {"model": net}, prefix="no_gan_checkpoint").load_path.endswith("=20.pt")


def test_linear_decay_matches_the_former_lambda():
    decay = LinearDecay(decay_start_epoch=2, epochs=4)
    assert [round(decay(e), 4) for e in range(5)] == [1.0, 1.0, 0.6667, 0.3333, 0.0]
    start, epochs = 32, 64
    former = lambda epoch: 1.0 - max(0, epoch + 1 - start) / max(1.0, epochs - start + 1.0)  # noqa: E731
    assert [LinearDecay(start, epochs)(e) for e in range(epochs)] == [former(e) for e in range(epochs)]


def test_with_accelerations_order():
    entries = [{"k": "a"}, {"k": "b"}]
    assert with_accelerations(entries, 4) == [{"k": "a", "acceleration": 4}, {"k": "b", "acceleration": 4}]
    got = with_accelerations(entries, [4, 8])
    assert [(e["k"], e["acceleration"]) for e in got] == [("a", 4), ("b", 4), ("a", 8), ("b", 8)]
    assert entries == [{"k": "a"}, {"k": "b"}]  # not modified


def test_with_reference():
    entries = [{"image": "a", "label": "b"}, {"image": "c"}]
    assert with_reference(entries) == [{"image": "a", "label": "b", "reference": "b"}, {"image": "c"}]
    assert "reference" not in entries[0]


def test_load_state_copy_and_missing_ok(tmp_path):
    torch.manual_seed(0)
    net, other = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    path = tmp_path / "w.pt"
    torch.save(other.state_dict(), path)
    original = net.weight.detach().clone()
    copy = load_state(net, path, copy=True)
    assert copy is not net and torch.equal(copy.weight, other.weight) and torch.equal(net.weight, original)
    assert load_state(net, tmp_path / "missing.pt", missing_ok=True) is None
    with pytest.raises(FileNotFoundError):
        load_state(net, tmp_path / "missing.pt")
    assert load_state(net, path) is net and torch.equal(net.weight, other.weight)


def test_translation_direction_helpers():
    assert (source_key("t1_to_t2"), target_key("t1_to_t2")) == ("t1w", "t2w")
    assert (source_key("t2_to_t1"), target_key("t2_to_t1")) == ("t2w", "t1w")
    assert (generator_direction("t1_to_t2"), generator_direction("t2_to_t1")) == ("a_to_b", "b_to_a")
    assert translation_titles("t1_to_t2") == ["input T1w", "translated T2w", "reference T2w"]
    assert translation_titles("t2_to_t1") == ["input T2w", "translated T1w", "reference T1w"]
    with pytest.raises(ValueError):
        source_key("t1_to_flair")


def test_translation_cases():
    entries = [{"t1w": "a1", "t2w": "a2", "subject": "A"}, {"t1w": "b1"}]
    assert translation_cases(entries, "t1w", "t2w") == [
        {"image": "a1", "subject": "A", "reference": "a2"},
        {"image": "b1", "subject": ""},
    ]
    assert translation_cases(entries[:1], "t2w", "t1w") == [{"image": "a2", "subject": "A", "reference": "a1"}]


@pytest.mark.parametrize(
    ("n", "first", "second"), [(1, [0], [0]), (2, [0], [1]), (3, [0, 1], [2]), (4, [0, 1], [2, 3])]
)
def test_unpaired_reference_images_halves(n, first, second):
    entries = [{"x": i} for i in range(n)]

    def transform(d):
        return {"x": d["x"] * 10}

    assert unpaired_reference_images(entries, transform, "x", 0) == [10 * i for i in first]
    assert unpaired_reference_images(entries, transform, "x", 1) == [10 * i for i in second]
    with pytest.raises(ValueError):
        unpaired_reference_images(entries, transform, "x", 2)


def test_seeded_latents_slice_items_and_dcgan_init_device():
    a = seeded_latents(4, 8, seed=3)
    assert a.shape == (4, 8) and torch.equal(a, seeded_latents(4, 8, seed=3))
    assert torch.equal(seeded_latents(6, 8, seed=3)[:4], a)  # rows do not depend on the number drawn
    assert torch.equal(a, torch.randn(4, 8, generator=torch.Generator().manual_seed(3)))
    slices = torch.arange(12.0).reshape(3, 1, 2, 2)
    items = slice_items(slices)
    assert len(items) == 3 and list(items[1]) == ["reals"] and torch.equal(items[1]["reals"], slices[1])
    net = torch.nn.Conv2d(1, 1, 3)
    assert dcgan_init(net, device="cpu") is net and float(net.bias.abs().sum()) == 0.0


@pytest.mark.parametrize("bundle", OWN)
def test_configs_import_nothing_and_parse(bundle):
    """The configs of these bundles need no ``imports``: every Python object is a ``_target_``."""
    configs = sorted((ROOT / "bundles" / bundle / "configs").glob("*.json"))
    for path in configs:
        text = path.read_text()
        assert "$import" not in text and "$lambda" not in text, path.name
        assert "torch.cuda.is_available" not in text, path.name
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles" / bundle / "configs" / "train.json")])
    parser["bundle_root"] = str(ROOT / "bundles" / bundle)
    assert parser.get_parsed_content("device") == default_device()
    assert json.loads((ROOT / "bundles" / bundle / "configs" / "metadata.json").read_text())["version"]

"""GAN engines: losses fall on toy problems, the engines run with MONAI handlers, and training resumes exactly."""

from __future__ import annotations

import re

import pytest
import torch
from ignite.engine import Events
from monai.handlers import CheckpointLoader, CheckpointSaver
from monai.networks.nets import PatchDiscriminator
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mri_monai.engines import ConditionalGanTrainer, CycleGanTrainer, PrepareBatchPair, latest_checkpoint
from mri_monai.generative import ImagePool
from mri_monai.networks.resnet_generator import ResnetGenerator


class ToyPairs(Dataset):
    """Blobs ``a`` in [-1, 1] and their exact contrast inversion ``b = -a``: a paired translation task."""

    def __init__(self, n: int = 16, size: int = 16, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        images = []
        for _ in range(n):
            cy, cx, r = (torch.rand(3, generator=g) * torch.tensor([size / 2, size / 2, size / 4])).tolist()
            blob = (((yy - cy - size / 4) ** 2 + (xx - cx - size / 4) ** 2) < (r + 2) ** 2).float()
            images.append(blob[None] * 1.6 - 0.8)
        self.a = torch.stack(images)

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"a": self.a[i], "b": -self.a[i]}


def _generator() -> nn.Module:
    return ResnetGenerator(spatial_dims=2, base_channels=4, num_downsamplings=1, num_residual_blocks=1)


def _discriminator(in_channels: int = 1) -> nn.Module:
    return PatchDiscriminator(spatial_dims=2, channels=4, in_channels=in_channels, num_layers_d=2, norm="INSTANCE")


def _adam(*modules: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=2e-3, betas=(0.5, 0.999))


def _losses(trainer, key: str) -> list[float]:
    values: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: values.append(e.state.output[key]))
    return values


def _conditional(epochs: int = 1, handlers=()) -> ConditionalGanTrainer:
    torch.manual_seed(0)
    g, d = _generator(), _discriminator(2)
    loader = DataLoader(ToyPairs(), batch_size=4, shuffle=False)
    return ConditionalGanTrainer(
        "cpu", epochs, loader, g, _adam(g), d, _adam(d), recon_weight=10.0,
        prepare_batch=PrepareBatchPair("a", "b"), train_handlers=list(handlers),
    )  # fmt: skip


def _cycle(epochs: int = 1, handlers=(), identity_weight: float = 0.5) -> CycleGanTrainer:
    torch.manual_seed(0)
    g_ab, g_ba, d_a, d_b = _generator(), _generator(), _discriminator(), _discriminator()
    loader = DataLoader(ToyPairs(), batch_size=4, shuffle=False)
    return CycleGanTrainer(
        "cpu", epochs, loader, g_ab, g_ba, _adam(g_ab, g_ba), d_a, d_b, _adam(d_a, d_b),
        identity_weight=identity_weight, pool_size=8, prepare_batch=PrepareBatchPair("a", "b"),
        train_handlers=list(handlers),
    )  # fmt: skip


def test_conditional_gan_reconstruction_loss_falls():
    trainer = _conditional(epochs=15)
    recon = _losses(trainer, "g_recon_loss")
    trainer.run()
    assert trainer.state.iteration == 60
    assert sum(recon[-5:]) / 5 < 0.5 * sum(recon[:5]) / 5
    out = trainer.state.output
    assert out["pred"].shape == out["target"].shape == (4, 1, 16, 16)
    assert {"g_loss", "g_adv_loss", "g_recon_loss", "d_loss"} <= set(out)


def test_conditional_gan_generic_discriminator_input_and_losses():
    """An unconditional discriminator (SRGAN-style) and a custom reconstruction loss plug in unchanged."""
    torch.manual_seed(0)
    g, d = _generator(), _discriminator(1)
    calls = []

    def mse(fake, y):
        calls.append(fake.shape)
        return nn.functional.mse_loss(fake, y)

    trainer = ConditionalGanTrainer(
        "cpu", 1, DataLoader(ToyPairs(n=4), batch_size=2), g, _adam(g), d, _adam(d), recon_loss=mse,
        d_input=lambda x, y: y, prepare_batch=PrepareBatchPair("a", "b"),
    )  # fmt: skip
    trainer.run()
    assert len(calls) == 2 and calls[0] == (2, 1, 16, 16)


def test_cycle_gan_cycle_loss_falls_and_identity_is_used():
    trainer = _cycle(epochs=15)
    cycle = _losses(trainer, "cycle_loss")
    trainer.run()
    assert sum(cycle[-5:]) / 5 < 0.5 * sum(cycle[:5]) / 5
    assert trainer.state.output["identity_loss"] > 0
    assert trainer.state.output["fake_b"].shape == (4, 1, 16, 16)
    assert len(trainer.pool_a.images) == 8


def test_cycle_gan_without_identity_skips_it():
    trainer = _cycle(epochs=1, identity_weight=0.0)
    trainer.run()
    assert trainer.state.output["identity_loss"] == 0.0


def _fixed_identity() -> nn.Module:
    conv = nn.Conv2d(1, 1, 1)
    nn.init.ones_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_cycle_gan_noise_enters_the_cycle_only(noise):
    """Identity generators (never updated): the cycle error is the noise alone, 2 E|n| = 2 sigma sqrt(2 / pi);
    the translations themselves are noise-free."""
    torch.manual_seed(0)
    g_ab, g_ba, d_a, d_b = _fixed_identity(), _fixed_identity(), _discriminator(), _discriminator()
    frozen = torch.optim.SGD([*g_ab.parameters(), *g_ba.parameters()], lr=0.0)
    loader = DataLoader(ToyPairs(), batch_size=4, shuffle=False)
    trainer = CycleGanTrainer(
        "cpu", 1, loader, g_ab, g_ba, frozen, d_a, d_b, _adam(d_a, d_b), cycle_noise=noise, pool_size=0,
        prepare_batch=PrepareBatchPair("a", "b"), epoch_length=1,
    )  # fmt: skip
    trainer.run()
    out = trainer.state.output
    assert out["cycle_loss"] == pytest.approx(2 * noise * (2 / torch.pi) ** 0.5, abs=0.01)
    assert torch.equal(out["fake_b"], out["a"]) and torch.equal(out["fake_a"], out["b"])


def test_cycle_gan_r1_penalty_adds_half_gamma_squared_gradient_per_discriminator():
    """1x1-convolution discriminators D(x) = w x + c: the gradient of the summed logits is w at every pixel, so
    each discriminator's R1 term is gamma / 2 * w^2 * H * W."""

    def run(r1_weight: float) -> tuple[float, list[nn.Module]]:
        torch.manual_seed(0)
        nets = [_fixed_identity(), _fixed_identity(), nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)]
        frozen = torch.optim.SGD([p for n in nets for p in n.parameters()], lr=0.0)
        loader = DataLoader(ToyPairs(), batch_size=4, shuffle=False)
        trainer = CycleGanTrainer(
            "cpu", 1, loader, nets[0], nets[1], frozen, nets[2], nets[3], frozen, r1_weight=r1_weight, pool_size=0,
            prepare_batch=PrepareBatchPair("a", "b"), epoch_length=1,
        )  # fmt: skip
        trainer.run()
        return trainer.state.output["d_loss"], nets

    plain, _ = run(0.0)
    penalised, nets = run(2.0)
    expected = sum(0.5 * 2.0 * float(d.weight) ** 2 * 16 * 16 for d in nets[2:])
    assert expected > 0.01
    assert penalised - plain == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="r1_weight"):
        run(-1.0)


def test_image_pool_mixes_and_round_trips():
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)
    mixed = pool.query(torch.full((4, 1, 1, 1), 9.0))
    assert mixed.shape == (4, 1, 1, 1)
    restored = ImagePool(4)
    restored.load_state_dict(pool.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(pool.images, restored.images, strict=True))
    assert torch.equal(ImagePool(0).query(first), first)
    assert not ImagePool(0).query(first.requires_grad_()).requires_grad  # never a path back to the generator
    empty = ImagePool(2)
    empty.load_state_dict(ImagePool(2).state_dict())
    assert empty.images == []


def _objects(trainer: CycleGanTrainer) -> dict:
    return {
        "g_ab": trainer.g_ab, "g_ba": trainer.g_ba, "d_a": trainer.d_a, "d_b": trainer.d_b,
        "g_optimizer": trainer.g_optimizer, "d_optimizer": trainer.d_optimizer,
        "pool_a": trainer.pool_a, "pool_b": trainer.pool_b, "trainer": trainer,
    }  # fmt: skip


class _KillError(Exception):
    pass


@pytest.mark.parametrize("kind", ["cycle", "conditional"])
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, kind):
    """Kill after 6 iterations (checkpoint every 4), resume: the count continues after 4 and ends where an unbroken
    run ends, with the same iteration count; resumed weights equal the checkpoint's at the start."""
    make = _cycle if kind == "cycle" else _conditional

    def objects(t):
        if kind == "cycle":
            return _objects(t)
        return {"g": t.g_network, "d": t.d_network, "go": t.g_optimizer, "do": t.d_optimizer, "trainer": t}

    first = make(epochs=3)
    CheckpointSaver(str(tmp_path), objects(first), save_interval=4, epoch_level=False, n_saved=1).attach(first)

    def kill(engine):
        if engine.state.iteration == 6:
            raise _KillError

    first.add_event_handler(Events.ITERATION_COMPLETED, kill)
    with pytest.raises(_KillError):
        first.run()
    path = latest_checkpoint(tmp_path)
    assert re.search(r"checkpoint_iteration=4\.pt$", path)
    saved = torch.load(path, weights_only=True)

    second = make(epochs=3)
    CheckpointLoader(path, objects(second)).attach(second)
    CheckpointSaver(str(tmp_path), objects(second), save_final=True).attach(second)
    seen = []
    second.add_event_handler(Events.ITERATION_STARTED, lambda e: seen.append(e.state.iteration))
    start = {}
    second.add_event_handler(
        Events.STARTED, lambda e: start.update({k: v.clone() for k, v in _net(e).state_dict().items()})
    )
    second.run()
    key = "g_ab" if kind == "cycle" else "g"
    assert all(torch.equal(start[k], saved[key][k]) for k in start)
    assert seen[0] == 5 and second.state.iteration == 12 and second.state.epoch == 3
    assert latest_checkpoint(tmp_path).endswith("checkpoint_final_iteration=12.pt")
    if kind == "cycle":
        assert len(second.pool_a.images) == 8


def _net(engine) -> nn.Module:
    return engine.g_ab if isinstance(engine, CycleGanTrainer) else engine.g_network


def test_latest_checkpoint_needs_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="no 'checkpoint_"):
        latest_checkpoint(tmp_path)
    (tmp_path / "checkpoint_iteration=10.pt").touch()
    (tmp_path / "checkpoint_iteration=9.pt").touch()
    (tmp_path / "other_iteration=99.pt").touch()
    assert latest_checkpoint(tmp_path).endswith("checkpoint_iteration=10.pt")

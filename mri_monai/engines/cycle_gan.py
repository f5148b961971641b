"""Cycle-consistent GAN training iteration (CycleGAN, Zhu et al. 2017) as a MONAI/Ignite engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.engines import Trainer
from monai.losses import PatchAdversarialLoss
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from mri_monai.generative.losses import r1_penalty
from mri_monai.generative.pool import ImagePool

from .prepare import PrepareBatchPair, discriminator_logits

__all__ = ["CycleGanTrainer", "LinearDecay"]


class CycleGanTrainer(Trainer):
    """Unpaired translation between domains A and B with two generators and two discriminators.

    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
    https://arxiv.org/abs/1703.10593; applied to T1/T2 MRI by Welander et al. 2018. Each iteration, for a batch
    ``(a, b)`` whose A and B images need not correspond:

    1. generator step on ``G_ab`` and ``G_ba`` together (one optimiser over both)::

        fake_b, fake_a = G_ab(a), G_ba(b)
        g_loss = adv(D_b(fake_b), real) + adv(D_a(fake_a), real)
                 + cycle_weight * (|G_ba(fake_b + n) - a|_1 + |G_ab(fake_a + n) - b|_1)
                 + identity_weight * cycle_weight * (|G_ba(a) - a|_1 + |G_ab(b) - b|_1)

    2. discriminator step on ``D_a`` and ``D_b`` together, each on real images and on fakes drawn from an
       :class:`~mri_monai.generative.ImagePool`: ``(adv(D(real), real) + adv(D(pool(fake)), fake)) / 2``,
       plus, when ``r1_weight`` > 0, the R1 penalty ``r1_weight / 2 * E ||grad D(real)||^2`` of each
       discriminator (Mescheder et al. 2018, :func:`~mri_monai.generative.r1_penalty`).

    ``n`` is Gaussian noise of standard deviation ``cycle_noise`` (0, none, by default): noise on the translation
    before it is translated back stops the generators from hiding the source image in faint high-frequency
    patterns of their output to satisfy the cycle loss (Chu et al., "CycleGAN, a Master of Steganography", NIPS
    2017 workshop, https://arxiv.org/abs/1712.02950), which shows as GAN texture. The identity term (weighted
    relative to the cycle weight, as in the reference implementation) is skipped when ``identity_weight`` is 0,
    saving two generator passes. The generator step leaves gradients in the discriminators; they are cleared
    before the discriminator step, so ``requires_grad`` is never toggled (DistributedDataParallel-safe). Works
    for any spatial dims the networks accept.

    Args:
        device: device of the networks.
        max_epochs: epochs to train.
        train_data_loader: data loader of dictionary batches.
        g_ab: generator A -> B. g_ba: generator B -> A.
        g_optimizer: one optimiser over the parameters of both generators.
        d_a: discriminator of domain A. d_b: discriminator of domain B. Each returns logits or a list of feature
            maps ending with the logits (MONAI ``PatchDiscriminator``).
        d_optimizer: one optimiser over the parameters of both discriminators.
        adversarial_loss: ``(logits, target_is_real, for_discriminator) -> loss``; defaults to MONAI's
            ``PatchAdversarialLoss(criterion="least_squares")`` (LSGAN, as CycleGAN).
        cycle_loss: ``(reconstruction, original) -> loss``; defaults to ``torch.nn.L1Loss()``.
        cycle_weight: weight of the cycle loss (CycleGAN: 10).
        identity_weight: identity loss weight relative to ``cycle_weight`` (CycleGAN: 0.5; 0 disables it).
        r1_weight: gamma of the R1 penalty on real images for both discriminators (0: none, as CycleGAN).
        cycle_noise: standard deviation of the noise added to each translation before the cycle back, in the
            images' intensity units (0 disables it).
        pool_size: size of each discriminator's image pool (CycleGAN: 50; 0 disables the pools).
        prepare_batch: ``(batch, device, non_blocking, **kwargs) -> (a, b)``; defaults to keys ``"a"``, ``"b"``.
        epoch_length: iterations per epoch (the loader restarts when exhausted); defaults to ``len(loader)``.
        non_blocking: non-blocking device copies.
        iteration_update: replaces :meth:`_iteration` when given.
        train_handlers: MONAI/Ignite handlers (``CheckpointSaver``, ``StatsHandler``, ...).
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        to_kwargs: extra ``Tensor.to`` arguments for ``prepare_batch``.

    ``engine.pool_a`` and ``engine.pool_b`` hold the pools (checkpoint them with the networks to resume
    exactly). ``engine.state.output`` is a dict with tensors ``"a"``, ``"b"``, ``"fake_a"``, ``"fake_b"`` and the
    float losses ``"g_loss"``, ``"g_adv_loss"``, ``"cycle_loss"``, ``"identity_loss"``, ``"d_loss"``.

    Example::

        trainer = CycleGanTrainer(device, 10, loader, g_ab, g_ba, g_opt, d_a, d_b, d_opt,
                                  prepare_batch=PrepareBatchPair("t1w", "t2w"))
        trainer.run()
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: DataLoader,
        g_ab: torch.nn.Module,
        g_ba: torch.nn.Module,
        g_optimizer: Optimizer,
        d_a: torch.nn.Module,
        d_b: torch.nn.Module,
        d_optimizer: Optimizer,
        adversarial_loss: Callable | None = None,
        cycle_loss: Callable | None = None,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.0,
        cycle_noise: float = 0.0,
        r1_weight: float = 0.0,
        pool_size: int = 50,
        prepare_batch: Callable | None = None,
        epoch_length: int | None = None,
        non_blocking: bool = False,
        iteration_update: Callable | None = None,
        train_handlers: Sequence | None = None,
        optim_set_to_none: bool = False,
        to_kwargs: dict | None = None,
    ) -> None:
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=prepare_batch or PrepareBatchPair("a", "b"),
            iteration_update=iteration_update,
            handlers=train_handlers,
            decollate=False,
            to_kwargs=to_kwargs,
        )
        self.g_ab, self.g_ba, self.g_optimizer = g_ab, g_ba, g_optimizer
        self.d_a, self.d_b, self.d_optimizer = d_a, d_b, d_optimizer
        self.adversarial_loss = adversarial_loss or PatchAdversarialLoss(criterion="least_squares")
        self.cycle_loss = cycle_loss or torch.nn.L1Loss()
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight
        self.cycle_noise = cycle_noise
        if not r1_weight >= 0:
            raise ValueError(f"r1_weight must be >= 0, got {r1_weight}")
        self.r1_weight = r1_weight
        self.pool_a = ImagePool(pool_size)
        self.pool_b = ImagePool(pool_size)
        self.optim_set_to_none = optim_set_to_none

    def _adv(self, d: torch.nn.Module, image: torch.Tensor, real: bool, for_d: bool) -> torch.Tensor:
        return self.adversarial_loss(discriminator_logits(d(image)), target_is_real=real, for_discriminator=for_d)

    def _real(self, d: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``adv(D(image), real)`` for the discriminator and the R1 penalty of ``D`` at ``image`` (0 when off)."""
        if self.r1_weight == 0:
            return self._adv(d, image, True, True), torch.zeros((), device=image.device)
        image = image.detach().requires_grad_(True)
        logits = discriminator_logits(d(image))
        adv = self.adversarial_loss(logits, target_is_real=True, for_discriminator=True)
        return adv, 0.5 * self.r1_weight * r1_penalty(logits, image)

    def _noisy(self, image: torch.Tensor) -> torch.Tensor:
        return image + self.cycle_noise * torch.randn_like(image) if self.cycle_noise > 0 else image

    def _iteration(self, engine: CycleGanTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:
        """One generator and one discriminator update on ``batchdata``; returns the losses and tensors."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        a, b = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        for net in (engine.g_ab, engine.g_ba, engine.d_a, engine.d_b):
            net.train()

        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        fake_b, fake_a = engine.g_ab(a), engine.g_ba(b)
        g_adv = engine._adv(engine.d_b, fake_b, True, False) + engine._adv(engine.d_a, fake_a, True, False)
        cycle_a = engine.cycle_loss(engine.g_ba(engine._noisy(fake_b)), a)
        cycle = cycle_a + engine.cycle_loss(engine.g_ab(engine._noisy(fake_a)), b)
        g_loss = g_adv + engine.cycle_weight * cycle
        identity = torch.zeros((), device=a.device)
        if engine.identity_weight > 0:
            identity = engine.cycle_loss(engine.g_ba(a), a) + engine.cycle_loss(engine.g_ab(b), b)
            g_loss = g_loss + engine.identity_weight * engine.cycle_weight * identity
        g_loss.backward()
        engine.g_optimizer.step()

        engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        pooled_a, pooled_b = engine.pool_a.query(fake_a), engine.pool_b.query(fake_b)
        (real_a, r1_a), (real_b, r1_b) = engine._real(engine.d_a, a), engine._real(engine.d_b, b)
        d_a_loss = 0.5 * (real_a + engine._adv(engine.d_a, pooled_a, False, True))
        d_b_loss = 0.5 * (real_b + engine._adv(engine.d_b, pooled_b, False, True))
        d_loss = d_a_loss + d_b_loss + r1_a + r1_b
        d_loss.backward()
        engine.d_optimizer.step()
        return {
            "a": a,
            "b": b,
            "fake_a": fake_a.detach(),
            "fake_b": fake_b.detach(),
            "g_loss": g_loss.item(),
            "g_adv_loss": g_adv.item(),
            "cycle_loss": cycle.item(),
            "identity_loss": identity.item(),
            "d_loss": d_loss.item(),
        }


class LinearDecay:
    """Learning-rate factor of CycleGAN training (Zhu et al. 2017): 1 until ``decay_start_epoch``, then linear to 0.

    A ``torch.optim.lr_scheduler.LambdaLR`` ``lr_lambda`` stepped once per epoch: after ``epoch`` scheduler steps
    the factor is ``1 - max(0, epoch + 1 - decay_start_epoch) / max(1, epochs - decay_start_epoch + 1)``.

    Args:
        decay_start_epoch: epochs at the full rate.
        epochs: total epochs; the factor reaches 0 after the last one.

    Example: ``LinearDecay(2, 4)``: epochs 0..4 -> 1.0, 1.0, 0.6667, 0.3333, 0.0.
    """

    def __init__(self, decay_start_epoch: int, epochs: int) -> None:
        self.decay_start_epoch = decay_start_epoch
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - self.decay_start_epoch) / max(1.0, self.epochs - self.decay_start_epoch + 1.0)

    def __repr__(self) -> str:
        return f"LinearDecay(decay_start_epoch={self.decay_start_epoch}, epochs={self.epochs})"

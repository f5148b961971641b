"""Conditional GAN training iteration (pix2pix, Isola et al. 2017) as a MONAI/Ignite engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.engines import Trainer
from monai.inferers import Inferer, SimpleInferer
from monai.losses import PatchAdversarialLoss
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from .prepare import PrepareBatchPair, discriminator_logits

__all__ = ["ConditionalGanTrainer", "concatenate_channels"]


def concatenate_channels(condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Discriminator input of pix2pix: condition and (real or generated) image stacked on the channel axis.

    Shapes: (B, Cx, *S), (B, Cy, *S) -> (B, Cx + Cy, *S).
    """
    return torch.cat([condition, image], dim=1)


class ConditionalGanTrainer(Trainer):
    """Conditional adversarial training: ``G(x)`` should look like ``y`` to ``D`` and be close to ``y``.

    Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017,
    https://arxiv.org/abs/1611.07004. Unlike MONAI's ``AdversarialTrainer`` (whose discriminator judges the
    generator's output against its own input), the discriminator here judges (condition, image) pairs.
    Each iteration, for a batch ``(x, y)``:

    1. ``fake = G(x)``;
    2. discriminator step: ``d_loss = (adv(D(d_input(x, y)), real) + adv(D(d_input(x, fake.detach())), fake)) / 2``;
    3. generator step: ``g_loss = adv(D(d_input(x, fake)), real) + recon_weight * recon_loss(fake, y)``.

    Nothing is specific to 2D, to images or to a loss: the spatial dims come from the networks, ``d_input``
    chooses what the discriminator sees (``concatenate_channels`` for pix2pix; ``lambda x, y: y`` for an
    unconditional discriminator, e.g. SRGAN), ``recon_loss`` may be any ``(fake, y) -> loss`` (L1, Dice for a
    Vox2Vox segmentation, a perceptual loss). The discriminator step comes first, as in pix2pix; gradients
    that the generator step leaves in ``D`` are cleared before the next discriminator step, so ``D`` never
    has ``requires_grad`` toggled (which DistributedDataParallel does not allow).

    Args:
        device: device of the networks.
        max_epochs: epochs to train.
        train_data_loader: data loader of dictionary batches.
        g_network: generator, (B, Cx, *S) -> (B, Cy, *S).
        g_optimizer: optimiser of the generator's parameters.
        d_network: discriminator; returns logits, or a list of feature maps ending with the logits
            (MONAI ``PatchDiscriminator``).
        d_optimizer: optimiser of the discriminator's parameters.
        adversarial_loss: ``(logits, target_is_real, for_discriminator) -> loss``; defaults to MONAI's
            ``PatchAdversarialLoss(criterion="least_squares")`` (LSGAN, Mao et al. 2017).
        recon_loss: ``(fake, y) -> loss``; defaults to ``torch.nn.L1Loss()``.
        recon_weight: weight of ``recon_loss`` in the generator loss (pix2pix: 100).
        adversarial_weight: weight of the adversarial term in the generator loss.
        d_input: ``(x, image) -> discriminator input``; defaults to :func:`concatenate_channels`.
        prepare_batch: ``(batch, device, non_blocking, **kwargs) -> (x, y)``; defaults to the ``"image"`` and
            ``"label"`` keys.
        epoch_length: iterations per epoch (the loader restarts when exhausted); defaults to ``len(loader)``.
        g_inferer: how the generator is run; defaults to ``SimpleInferer()``.
        non_blocking: non-blocking device copies.
        iteration_update: replaces :meth:`_iteration` when given.
        train_handlers: MONAI/Ignite handlers (``CheckpointSaver``, ``StatsHandler``, ...).
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        to_kwargs: extra ``Tensor.to`` arguments for ``prepare_batch``.

    ``engine.state.output`` is a dict with ``"input"``, ``"target"``, ``"pred"`` (tensors) and the float losses
    ``"g_loss"``, ``"g_adv_loss"``, ``"g_recon_loss"``, ``"d_loss"``.

    Example::

        trainer = ConditionalGanTrainer(
            device, 10, loader, g, torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999)),
            d, torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999)),
            prepare_batch=PrepareBatchPair("t1w", "t2w"),
        )
        trainer.run()
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: DataLoader,
        g_network: torch.nn.Module,
        g_optimizer: Optimizer,
        d_network: torch.nn.Module,
        d_optimizer: Optimizer,
        adversarial_loss: Callable | None = None,
        recon_loss: Callable | None = None,
        recon_weight: float = 100.0,
        adversarial_weight: float = 1.0,
        d_input: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = concatenate_channels,
        prepare_batch: Callable | None = None,
        epoch_length: int | None = None,
        g_inferer: Inferer | None = None,
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
            prepare_batch=prepare_batch or PrepareBatchPair("image", "label"),
            iteration_update=iteration_update,
            handlers=train_handlers,
            decollate=False,
            to_kwargs=to_kwargs,
        )
        self.g_network = g_network
        self.g_optimizer = g_optimizer
        self.d_network = d_network
        self.d_optimizer = d_optimizer
        self.adversarial_loss = adversarial_loss or PatchAdversarialLoss(criterion="least_squares")
        self.recon_loss = recon_loss or torch.nn.L1Loss()
        self.recon_weight = recon_weight
        self.adversarial_weight = adversarial_weight
        self.d_input = d_input
        self.g_inferer = g_inferer or SimpleInferer()
        self.optim_set_to_none = optim_set_to_none

    def _discriminate(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return discriminator_logits(self.d_network(self.d_input(x, image)))

    def _iteration(self, engine: ConditionalGanTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:
        """One discriminator and one generator update on ``batchdata``; returns the losses and tensors."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        x, y = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        engine.g_network.train()
        engine.d_network.train()
        fake = engine.g_inferer(x, engine.g_network)

        engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        d_real = engine.adversarial_loss(engine._discriminate(x, y), target_is_real=True, for_discriminator=True)
        d_fake = engine.adversarial_loss(
            engine._discriminate(x, fake.detach()), target_is_real=False, for_discriminator=True
        )
        d_loss = 0.5 * (d_real + d_fake)
        d_loss.backward()
        engine.d_optimizer.step()

        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        g_adv = engine.adversarial_loss(engine._discriminate(x, fake), target_is_real=True, for_discriminator=False)
        g_recon = engine.recon_loss(fake, y)
        g_loss = engine.adversarial_weight * g_adv + engine.recon_weight * g_recon
        g_loss.backward()
        engine.g_optimizer.step()
        return {
            "input": x,
            "target": y,
            "pred": fake.detach(),
            "g_loss": g_loss.item(),
            "g_adv_loss": g_adv.item(),
            "g_recon_loss": g_recon.item(),
            "d_loss": d_loss.item(),
        }

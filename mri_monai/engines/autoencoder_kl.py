"""Training iteration of a KL-regularised autoencoder with a patch adversarial term, as a MONAI/Ignite engine.

The first stage of a latent diffusion model (Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion
Models", CVPR 2022, https://arxiv.org/abs/2112.10752), as MONAI's generative tutorials train
``monai.networks.nets.AutoencoderKL``: a reconstruction loss, a small KL term that keeps the latent space close to a
standard normal, and a least-squares patch discriminator that sharpens the reconstructions once it is switched on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from monai.engines import SupervisedTrainer
from monai.engines.utils import default_prepare_batch
from monai.inferers import Inferer
from monai.losses import PatchAdversarialLoss
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from .prepare import discriminator_logits

__all__ = ["AutoencoderKLTrainer", "kl_divergence"]


def kl_divergence(z_mu: torch.Tensor, z_sigma: torch.Tensor) -> torch.Tensor:
    """KL divergence of the posterior N(``z_mu``, ``z_sigma``^2) from N(0, 1), summed over a latent, batch mean.

    ``0.5 * sum(mu^2 + sigma^2 - log(sigma^2) - 1)`` over the channels and positions of each latent, averaged over the
    batch (the KL term of MONAI's AutoencoderKL tutorials).

    Shapes: (B, C, *S), (B, C, *S) -> scalar.

    Example::

        kl_divergence(torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4))  # tensor(0.)
    """
    kl = 0.5 * (z_mu.pow(2) + z_sigma.pow(2) - torch.log(z_sigma.pow(2)) - 1)
    return kl.flatten(1).sum(1).mean()


class AutoencoderKLTrainer(SupervisedTrainer):
    """Train a MONAI ``AutoencoderKL``: reconstruction + ``kl_weight`` x KL, then a patch adversarial term as well.

    Each iteration, for a batch ``x`` (the image is its own target):

    1. ``reconstruction, z_mu, z_sigma = inferer(x, network)`` (the decoder sees a posterior sample);
    2. autoencoder step: ``loss = loss_function(reconstruction, x) + kl_weight * KL(z_mu, z_sigma)``
       (:func:`kl_divergence`), plus ``adversarial_weight * adv(D(reconstruction), real)`` once the adversarial
       term is on;
    3. discriminator step, once the adversarial term is on:
       ``d_loss = (adv(D(x), real) + adv(D(reconstruction.detach()), fake)) / 2``.

    The adversarial term is on from iteration ``adversarial_start + 1`` (``engine.state.iteration``, so a resumed
    run switches it on at the same point) when a discriminator is given; before that the discriminator is neither
    run nor trained. The autoencoder step comes first, as in MONAI's tutorials; the gradients it leaves in the
    discriminator are cleared before the discriminator step, so the discriminator never has ``requires_grad``
    toggled (which DistributedDataParallel does not allow). MONAI's tutorials also multiply the discriminator loss by
    the adversarial weight; with Adam a constant factor on a loss changes almost nothing (only the size of its
    ``eps`` relative to the gradients), so ``d_loss`` is left on the least-squares scale (0.25 at equilibrium).

    Args:
        device: device of the networks.
        max_epochs: epochs to train.
        train_data_loader: data loader of dictionary batches.
        network: ``AutoencoderKL`` (or any network returning ``(reconstruction, z_mu, z_sigma)``),
            (B, C, *S) -> ((B, C, *S), (B, L, *S'), (B, L, *S')).
        optimizer: optimiser of the autoencoder's parameters.
        d_network: patch discriminator, (B, C, *S) -> logits, or a list of feature maps ending with the logits
            (MONAI ``PatchDiscriminator``); ``None``: no adversarial term.
        d_optimizer: optimiser of the discriminator's parameters (with ``d_network``).
        loss_function: reconstruction loss ``(reconstruction, x) -> loss``; defaults to ``torch.nn.L1Loss()``.
        kl_weight: weight of the KL term (1e-6 in MONAI's tutorials: the latents stay close to the posterior means).
        adversarial_weight: weight of the adversarial term in the autoencoder loss.
        adversarial_start: iterations trained without the adversarial term.
        adversarial_loss: ``(logits, target_is_real, for_discriminator) -> loss``; defaults to MONAI's
            ``PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=True)`` (LSGAN on raw logits,
            as :mod:`mri_monai.generative.losses`).
        epoch_length: iterations per epoch; defaults to ``len(train_data_loader)``.
        prepare_batch: ``(batch, device, non_blocking, **kwargs) -> (x, _)``; defaults to MONAI's, which takes the
            ``"image"`` key of a dictionary batch.
        inferer: how the autoencoder is run; defaults to ``SimpleInferer()`` (``network(x)``).
        train_handlers: MONAI/Ignite handlers (``CheckpointSaver``, ``StatsHandler``, ``ValidationHandler``...).
        non_blocking: non-blocking device copies.
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        to_kwargs: extra ``Tensor.to`` arguments for ``prepare_batch``.

    ``engine.state.output`` is a dict with ``"image"``, ``"label"`` (both ``x``) and ``"pred"`` (the
    reconstruction, detached) and the float losses ``"loss"`` (the autoencoder's total), ``"recon_loss"``,
    ``"kl_loss"`` and, once the adversarial term is on, ``"g_adv_loss"`` and ``"d_loss"``.

    Example::

        autoencoder = AutoencoderKL(spatial_dims=2, channels=(32, 64, 64), latent_channels=3, num_res_blocks=1,
                                    attention_levels=(False, False, False), with_encoder_nonlocal_attn=False,
                                    with_decoder_nonlocal_attn=False)
        discriminator = PatchDiscriminator(spatial_dims=2, channels=32, in_channels=1, num_layers_d=3)
        trainer = AutoencoderKLTrainer("cpu", 20, loader, autoencoder, Adam(autoencoder.parameters(), 1e-4),
                                       discriminator, Adam(discriminator.parameters(), 1e-4), adversarial_start=480)
        trainer.run()
        reconstruction = autoencoder.eval().reconstruct(images)  # decoded posterior mean, (B, 1, 128, 128)
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        network: torch.nn.Module,
        optimizer: Optimizer,
        d_network: torch.nn.Module | None = None,
        d_optimizer: Optimizer | None = None,
        loss_function: Callable | None = None,
        kl_weight: float = 1e-6,
        adversarial_weight: float = 0.01,
        adversarial_start: int = 0,
        adversarial_loss: Callable | None = None,
        epoch_length: int | None = None,
        prepare_batch: Callable = default_prepare_batch,
        inferer: Inferer | None = None,
        train_handlers: Sequence | None = None,
        non_blocking: bool = False,
        optim_set_to_none: bool = False,
        to_kwargs: dict | None = None,
    ) -> None:
        if (d_network is None) != (d_optimizer is None):
            raise ValueError("give both d_network and d_optimizer, or neither (no adversarial term)")
        if kl_weight < 0 or adversarial_weight < 0 or adversarial_start < 0:
            raise ValueError(
                f"kl_weight, adversarial_weight and adversarial_start must be >= 0, got {kl_weight}, "
                f"{adversarial_weight}, {adversarial_start}"
            )
        loss_function = loss_function or torch.nn.L1Loss()
        super().__init__(device, max_epochs, train_data_loader, network, optimizer, loss_function, epoch_length,
                         non_blocking, prepare_batch, inferer=inferer, train_handlers=train_handlers, decollate=False,
                         optim_set_to_none=optim_set_to_none, to_kwargs=to_kwargs)  # fmt: skip
        self.d_network = d_network
        self.d_optimizer = d_optimizer
        self.kl_weight = kl_weight
        self.adversarial_weight = adversarial_weight
        self.adversarial_start = adversarial_start
        self.adversarial_loss = adversarial_loss or PatchAdversarialLoss(
            criterion="least_squares", no_activation_leastsq=True
        )

    def adversarial_on(self) -> bool:
        """Whether this iteration has the adversarial term: a discriminator is given and ``adversarial_start``
        iterations have passed."""
        return self.d_network is not None and self.state.iteration > self.adversarial_start

    def _discriminate(self, images: torch.Tensor) -> torch.Tensor:
        return discriminator_logits(self.d_network(images))

    def _iteration(self, engine: AutoencoderKLTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:
        """One autoencoder update (and a discriminator update once the adversarial term is on) on ``batchdata``."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        images = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)[0]
        adversarial = engine.adversarial_on()
        engine.network.train()
        engine.optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        reconstruction, z_mu, z_sigma = engine.inferer(images, engine.network)
        recon_loss = engine.loss_function(reconstruction, images)
        kl_loss = kl_divergence(z_mu, z_sigma)
        loss = recon_loss + engine.kl_weight * kl_loss
        losses = {"recon_loss": recon_loss.item(), "kl_loss": kl_loss.item()}
        if adversarial:
            engine.d_network.train()
            g_adv = engine.adversarial_loss(
                engine._discriminate(reconstruction), target_is_real=True, for_discriminator=False
            )
            loss = loss + engine.adversarial_weight * g_adv
            losses["g_adv_loss"] = g_adv.item()
        loss.backward()
        engine.optimizer.step()

        if adversarial:
            engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
            d_real = engine.adversarial_loss(engine._discriminate(images), target_is_real=True, for_discriminator=True)
            d_fake = engine.adversarial_loss(
                engine._discriminate(reconstruction.detach()), target_is_real=False, for_discriminator=True
            )
            d_loss = 0.5 * (d_real + d_fake)
            d_loss.backward()
            engine.d_optimizer.step()
            losses["d_loss"] = d_loss.item()
        return {"image": images, "label": images, "pred": reconstruction.detach(), "loss": loss.item(), **losses}

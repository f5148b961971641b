"""Adversarial loss callables in the form MONAI's ``GanTrainer`` calls them.

Both use MONAI's :class:`~monai.losses.PatchAdversarialLoss` on the discriminator's logits. For the least-squares
criterion MONAI applies a leaky ReLU to the logits by default, so any negative logit counts as "fake" at almost no
cost to the discriminator; that is not the least-squares GAN of Mao et al. 2017, so it is switched off
(``no_activation_leastsq=True``). With it on, the synthesis bundle's discriminator loss fell to 0.01 in the first
epoch; with it off the discriminator still won within 1,500 iterations there, so this is a correction, not a cure.

``instance_noise`` adds Gaussian noise of that standard deviation to every image the discriminator sees, real and
generated alike (Sønderby et al., "Amortised MAP Inference for Image Super-resolution", ICLR 2017,
https://arxiv.org/abs/1610.04490; Arjovsky & Bottou, ICLR 2017): real slices have an exactly constant background
that a ``tanh`` generator only approaches, and the noise hides that give-away so the discriminator has to judge
anatomy.

``r1_weight`` adds the R1 gradient penalty on real images (Mescheder et al., "Which Training Methods for GANs do
actually Converge?", ICML 2018, https://arxiv.org/abs/1801.04406): ``r1_weight / 2 * E ||grad_x D(x)||^2`` over
the real batch, which keeps the discriminator from growing steep around the data and winning outright.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from monai.losses import PatchAdversarialLoss
from torch import nn

__all__ = ["DiscriminatorLoss", "GeneratorLoss", "r1_penalty"]


class DiscriminatorLoss:
    """``d_loss_function(fakes, reals)`` for MONAI's ``GanTrainer``: real images -> real, generated -> fake.

    Args:
        discriminator: network returning logits (no final activation).
        criterion: ``"least_squares"`` (LSGAN), ``"bce"`` (original GAN) or ``"hinge"``; see MONAI's
            ``PatchAdversarialLoss``.
        instance_noise: standard deviation of the Gaussian noise added to the discriminator's inputs (0: none).
        r1_weight: weight gamma of the R1 penalty ``gamma / 2 * mean_b ||d D(reals_b) / d reals_b||^2`` (0: none).

    ``__call__(fakes, reals)``: (B, C, *S) each -> scalar ``(adv(D(reals), real) + adv(D(fakes), fake)) / 2``
    plus the R1 penalty; ``fakes`` are detached, so the generator receives no gradient from this loss.
    """

    def __init__(
        self,
        discriminator: nn.Module,
        criterion: str = "least_squares",
        instance_noise: float = 0.0,
        r1_weight: float = 0.0,
    ) -> None:
        self.discriminator = discriminator
        self.loss = PatchAdversarialLoss(criterion=criterion, no_activation_leastsq=True)
        self.instance_noise = _check_noise(instance_noise)
        if not r1_weight >= 0:
            raise ValueError(f"r1_weight must be >= 0, got {r1_weight}")
        self.r1_weight = float(r1_weight)

    def __call__(self, fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
        judge = _judge(self.discriminator, self.instance_noise)
        if self.r1_weight > 0:
            reals = reals.detach().requires_grad_(True)  # a new leaf: the caller's tensor is untouched
        real_logits = judge(reals)
        real = self.loss(real_logits, target_is_real=True, for_discriminator=True)
        fake = self.loss(judge(fakes.detach()), target_is_real=False, for_discriminator=True)
        loss = 0.5 * (real + fake)
        if self.r1_weight > 0:
            loss = loss + 0.5 * self.r1_weight * r1_penalty(real_logits, reals)
        return loss


class GeneratorLoss:
    """``g_loss_function(fakes)`` for MONAI's ``GanTrainer``: generated images should be judged real.

    Args:
        discriminator: network returning logits (no final activation).
        criterion: as :class:`DiscriminatorLoss`.
        instance_noise: as :class:`DiscriminatorLoss` (use the same value for both).
    """

    def __init__(self, discriminator: nn.Module, criterion: str = "least_squares", instance_noise: float = 0.0) -> None:
        self.discriminator = discriminator
        self.loss = PatchAdversarialLoss(criterion=criterion, no_activation_leastsq=True)
        self.instance_noise = _check_noise(instance_noise)

    def __call__(self, fakes: torch.Tensor) -> torch.Tensor:
        judge = _judge(self.discriminator, self.instance_noise)
        return self.loss(judge(fakes), target_is_real=True, for_discriminator=False)


def r1_penalty(logits: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the squared norm of ``d sum(logits) / d reals``, differentiable (Mescheder et al. 2018).

    Args:
        logits: the discriminator's logits for ``reals``, (B, ...), computed with ``reals.requires_grad``.
        reals: the real batch (B, C, *S) the logits were computed from.

    Returns:
        scalar ``mean_b ||grad_b||^2``; the caller weighs it (R1: ``gamma / 2``).
    """
    (grad,) = torch.autograd.grad(logits.sum(), reals, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def _check_noise(std: float) -> float:
    if not std >= 0:
        raise ValueError(f"instance_noise must be a standard deviation >= 0, got {std}")
    return float(std)


def _judge(discriminator: nn.Module, std: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """``discriminator`` applied to its input plus N(0, ``std``^2) noise (no noise when ``std`` is 0)."""
    if std == 0:
        return discriminator
    return lambda images: discriminator(images + std * torch.randn_like(images))

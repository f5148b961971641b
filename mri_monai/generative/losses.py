"""Adversarial loss callables in the form MONAI's ``GanTrainer`` calls them.

Both use MONAI's :class:`~monai.losses.PatchAdversarialLoss` on the discriminator's logits. For the least-squares
criterion MONAI applies a leaky ReLU to the logits by default, so any negative logit counts as "fake" at almost no
cost to the discriminator; that is not the least-squares GAN of Mao et al. 2017, so it is switched off
(``no_activation_leastsq=True``). With it on, the synthesis bundle's discriminator loss fell to 0.01 in the first
epoch; with it off the discriminator still won within 1,500 iterations there, so this is a correction, not a cure.
"""

from __future__ import annotations

import torch
from monai.losses import PatchAdversarialLoss
from torch import nn

__all__ = ["DiscriminatorLoss", "GeneratorLoss"]


class DiscriminatorLoss:
    """``d_loss_function(fakes, reals)`` for MONAI's ``GanTrainer``: real images -> real, generated -> fake.

    Args:
        discriminator: network returning logits (no final activation).
        criterion: ``"least_squares"`` (LSGAN), ``"bce"`` (original GAN) or ``"hinge"``; see MONAI's
            ``PatchAdversarialLoss``.

    ``__call__(fakes, reals)``: (B, C, *S) each -> scalar ``(adv(D(reals), real) + adv(D(fakes), fake)) / 2``;
    ``fakes`` are detached, so the generator receives no gradient from this loss.
    """

    def __init__(self, discriminator: nn.Module, criterion: str = "least_squares") -> None:
        self.discriminator = discriminator
        self.loss = PatchAdversarialLoss(criterion=criterion, no_activation_leastsq=True)

    def __call__(self, fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
        real = self.loss(self.discriminator(reals), target_is_real=True, for_discriminator=True)
        fake = self.loss(self.discriminator(fakes.detach()), target_is_real=False, for_discriminator=True)
        return 0.5 * (real + fake)


class GeneratorLoss:
    """``g_loss_function(fakes)`` for MONAI's ``GanTrainer``: generated images should be judged real.

    Args:
        discriminator: network returning logits (no final activation).
        criterion: as :class:`DiscriminatorLoss`.
    """

    def __init__(self, discriminator: nn.Module, criterion: str = "least_squares") -> None:
        self.discriminator = discriminator
        self.loss = PatchAdversarialLoss(criterion=criterion, no_activation_leastsq=True)

    def __call__(self, fakes: torch.Tensor) -> torch.Tensor:
        return self.loss(self.discriminator(fakes), target_is_real=True, for_discriminator=False)

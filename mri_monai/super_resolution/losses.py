"""Content loss of the 3D SRGAN (Sánchez & Vilaplana 2018): mean squared error plus gradient difference.

The gradient difference loss (GDL, Mathieu et al. 2016) compares the absolute finite differences of the output and
of the reference along every spatial axis; it penalises the blur that the MSE alone tolerates, and the adversarial
term (weighted by the trainer) adds texture on top.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GradientDifferenceLoss", "SuperResolutionContentLoss"]


class GradientDifferenceLoss(nn.Module):
    """``mean over axes of mean(| |d_a pred| - |d_a target| | ** alpha)``, ``d_a`` the forward difference along ``a``.

    Args:
        alpha: exponent of the difference (2: squared, as in Sánchez & Vilaplana 2018).

    Shapes:
        pred, target: (B, C, *spatial), 1 to 3 spatial axes, each at least 2 long; output: a scalar.
    """

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``pred`` against ``target`` (same shape)."""
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        axes = range(2, pred.ndim)
        terms = [((pred.diff(dim=a).abs() - target.diff(dim=a).abs()).abs() ** self.alpha).mean() for a in axes]
        return torch.stack(terms).mean()


class SuperResolutionContentLoss(nn.Module):
    """``MSE(pred, target) + gdl_weight * GDL(pred, target)``, the SRGAN generator's reconstruction term.

    Args:
        gdl_weight: weight of :class:`GradientDifferenceLoss`.
        alpha: its exponent.

    Shapes:
        pred, target: (B, C, *spatial); output: a scalar.
    """

    def __init__(self, gdl_weight: float = 1.0, alpha: float = 2.0) -> None:
        super().__init__()
        self.mse = nn.MSELoss()
        self.gdl = GradientDifferenceLoss(alpha)
        self.gdl_weight = gdl_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``pred`` against ``target``."""
        return self.mse(pred, target) + self.gdl_weight * self.gdl(pred, target)

"""The training loss of learned registration: image similarity + field regularisation + optional label overlap."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss, DiffusionLoss, LocalNormalizedCrossCorrelationLoss
from monai.networks.blocks import Warp
from monai.utils import convert_to_tensor
from torch import nn

__all__ = ["RegistrationLoss"]


class RegistrationLoss(nn.Module):
    """``similarity(warped moving, fixed) + regularization_weight * regularization(ddf) + label_weight * Dice loss``.

    The Dice term (VoxelMorph's auxiliary segmentation loss) compares the warped one-hot moving labels with the fixed
    ones (background excluded); it is used when the target holds label maps and ``label_weight > 0``. With
    ``downsample > 1`` every term is computed on a grid that many times coarser (images, one-hot labels and the
    field average-pooled, the field divided by ``downsample``), which is where most of a CPU training step goes.

    Args:
        similarity: image loss called as ``similarity(warped, fixed)``; MONAI's
            ``LocalNormalizedCrossCorrelationLoss(kernel_size=5)`` by default (``GlobalMutualInformationLoss`` suits
            different contrasts).
        regularization: field loss called on the (B, 3, X, Y, Z) displacement; ``DiffusionLoss`` by default
            (``BendingEnergyLoss`` also fits).
        regularization_weight: weight of the regularisation.
        label_weight: weight of the Dice term (0 disables it).
        num_labels: label values are ``0 .. num_labels - 1`` (0 the background).
        downsample: integer factor of the grid the losses are computed on.

    Shapes:
        ddf: (B, 3, X, Y, Z) displacement in voxels (the network's output). target: (B, 2, X, Y, Z) moving and fixed
        images, or (B, 4, X, Y, Z) moving image, fixed image, moving labels, fixed labels
        (:class:`~mri_monai.registration.data.PrepareRegistrationBatch`).

    Example::

        loss = RegistrationLoss(label_weight=1.0, downsample=2)
        value = loss(net(pair), torch.cat([moving, fixed, moving_labels, fixed_labels], dim=1))
    """

    def __init__(
        self,
        similarity: nn.Module | None = None,
        regularization: nn.Module | None = None,
        regularization_weight: float = 1.0,
        label_weight: float = 1.0,
        num_labels: int = 4,
        downsample: int = 1,
    ) -> None:
        super().__init__()
        self.similarity = similarity if similarity is not None else LocalNormalizedCrossCorrelationLoss(kernel_size=5)
        self.regularization = regularization if regularization is not None else DiffusionLoss()
        self.regularization_weight = float(regularization_weight)
        self.label_weight = float(label_weight)
        self.num_labels = int(num_labels)
        self.downsample = int(downsample)
        self.dice = DiceLoss(include_background=False)
        self.warp = Warp(mode="bilinear", padding_mode="zeros")

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(x, self.downsample, ceil_mode=True) if self.downsample > 1 else x

    def forward(self, ddf: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss of the (B, 3, X, Y, Z) field ``ddf`` for the (B, 2 or 4, X, Y, Z) ``target``."""
        if target.shape[1] not in (2, 4) or target.shape[2:] != ddf.shape[2:]:
            raise ValueError(f"target must be (B, 2 or 4, *ddf spatial shape), got {tuple(target.shape)}")
        target = convert_to_tensor(target, track_meta=False).float()
        ddf = self._pool(convert_to_tensor(ddf, track_meta=False)) / self.downsample
        moving, fixed = self._pool(target[:, :1]), self._pool(target[:, 1:2])
        loss = self.similarity(self.warp(moving, ddf), fixed)
        loss = loss + self.regularization_weight * self.regularization(ddf)
        if self.label_weight > 0 and target.shape[1] == 4:
            values = torch.arange(self.num_labels, device=target.device).view(1, -1, 1, 1, 1)
            moving_labels = self._pool((target[:, 2:3].round() == values).float())
            fixed_labels = self._pool((target[:, 3:4].round() == values).float())
            loss = loss + self.label_weight * self.dice(self.warp(moving_labels, ddf), fixed_labels)
        return loss

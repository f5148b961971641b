"""End-to-End Variational Network (Sriram et al., MICCAI 2020) on complex k-space, built from MONAI's blocks.

MONAI's :class:`~monai.apps.reconstruction.networks.nets.varnet.VariationalNetworkModel`,
:class:`~monai.apps.reconstruction.networks.nets.coil_sensitivity_model.CoilSensitivityModel` and
:class:`~monai.apps.reconstruction.networks.blocks.varnetblock.VarNetBlock` work on the two-channel real layout
(B, C, H, W, 2); :class:`E2EVarNet` is the adapter that takes our complex k-space and any broadcasting mask, finds
the calibration region for whole batches, and returns the magnitude image with a channel dimension.

Sizes follow fastMRI's ``VarNet``: a U-Net with ``chans`` features at full resolution doubling over 4 poolings
(MONAI ``BasicUNet`` features ``(c, 2c, 4c, 8c, 16c, c)``), the same for the sensitivity network with ``sens_chans``.
``unet_topology="fastmri"`` uses :class:`~mri_monai.recon.unet.FastMRIUNet` (``BasicUNet`` with fastMRI's last
up-sampling and average pooling) for both; the default ``"monai"`` runs ``BasicUNet`` as
:class:`~mri_monai.recon.unet.LeanBasicUNet`, faster than ``fastmri.models.VarNet`` on a CPU.
Reference: Sriram et al., "End-to-End Variational Networks for Accelerated MRI Reconstruction", MICCAI 2020.
"""

from __future__ import annotations

import torch
from monai.apps.reconstruction.networks.nets.coil_sensitivity_model import CoilSensitivityModel
from monai.apps.reconstruction.networks.nets.complex_unet import ComplexUnet
from monai.apps.reconstruction.networks.nets.utils import (
    complex_normalize,
    divisible_pad_t,
    inverse_divisible_pad_t,
    reshape_channel_complex_to_last_dim,
    reshape_complex_to_channel_dim,
)
from monai.apps.reconstruction.networks.nets.varnet import VariationalNetworkModel
from torch import Tensor, nn

from .unet import FastMRIUNet, LeanBasicUNet, unet_features

__all__ = [
    "E2EVarNet",
    "BatchCoilSensitivityModel",
    "RefinementUnet",
    "UnitSensitivity",
    "sampled_points",
]


def sampled_points(kspace: Tensor) -> Tensor:
    """The sampling mask implied by zero-filled k-space: points that are non-zero in any coil.

    Args:
        kspace: complex (B, C, H, W).

    Returns:
        bool (B, 1, H, W); a 1D Cartesian mask gives whole sampled columns.
    """
    return (kspace != 0).any(dim=1, keepdim=True)


class BatchCoilSensitivityModel(CoilSensitivityModel):
    """MONAI's ``CoilSensitivityModel`` with a calibration region valid for a whole batch of masks.

    The parent finds the fully sampled central columns by walking a single (1, 1, 1, W, 1) mask without bounds.
    Here the walk starts at column W // 2 and stops at the array ends, on the columns sampled in every row of every
    batch element, so batches of different random masks (B, 1, 1, W, 1), 2D masks (B, 1, H, W, 1) and fully sampled
    data work. The region is where the masks of the batch agree, so it is never wider than any one of them.
    """

    def get_fully_sampled_region(self, mask: Tensor) -> tuple[int, int]:
        """(left, right) column indices of the fully sampled centre of ``mask`` (B, 1, H or 1, W, 1)."""
        columns = mask.reshape(mask.shape[0] * mask.shape[1] * mask.shape[2], mask.shape[3]).all(dim=0)
        width = int(columns.shape[0])
        centre = width // 2
        if not bool(columns[centre]):
            raise ValueError("the mask does not sample the k-space centre: no calibration region for the coil maps")
        left, right = centre, centre + 1
        while left > 0 and bool(columns[left - 1]):
            left -= 1
        while right < width and bool(columns[right]):
            right += 1
        return left, right


def complex_unet_net(chans: int, unet_topology: str) -> nn.Module:
    """``ComplexUnet``'s ``conv_net``: its own ``BasicUNet`` as :class:`LeanBasicUNet`, or :class:`FastMRIUNet`."""
    if unet_topology == "monai":
        return LeanBasicUNet(chans)
    if unet_topology == "fastmri":
        return FastMRIUNet(chans)
    raise ValueError(f"unet_topology must be 'monai' or 'fastmri', got {unet_topology!r}")


class RefinementUnet(ComplexUnet):
    """MONAI's ``ComplexUnet`` as the VarNet refinement term, returning a correction that starts at zero.

    The parent normalises its input to zero mean and unit variance, runs the U-Net and returns
    ``unet(x_norm) * std + mean``; the refinement of a VarNet cascade is subtracted from the current estimate, so
    the parent's ``+ mean`` shifts every estimate by its own mean. Here the output is ``unet(x_norm) * std`` and the
    U-Net's last convolution starts at zero: an untrained network returns the data-consistent zero-filled estimate
    and training starts from there (instead of from random images), which matters on a CPU budget.
    Input and output: (B, 1, H, W, 2).

    Args:
        chans: U-Net features at full resolution.
        unet_topology: ``"monai"`` for ``BasicUNet``, ``"fastmri"`` for :class:`~mri_monai.recon.unet.FastMRIUNet`.
    """

    def __init__(self, chans: int, unet_topology: str = "monai") -> None:
        super().__init__(features=unet_features(chans), conv_net=complex_unet_net(chans, unet_topology))
        nn.init.zeros_(self.unet.final_conv.weight)
        nn.init.zeros_(self.unet.final_conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = reshape_complex_to_channel_dim(x)
        x, _, std = complex_normalize(x)
        x, padding_sizes = divisible_pad_t(x, k=self.pad_factor)
        x = inverse_divisible_pad_t(self.unet(x), padding_sizes)
        return reshape_channel_complex_to_last_dim(x * std)


class UnitSensitivity(nn.Module):
    """Sensitivity "model" of single-coil data: one coil with sensitivity 1 everywhere (layout (B, 1, H, W, 2))."""

    def forward(self, masked_kspace: Tensor, mask: Tensor) -> Tensor:
        """Ones in the real part, zeros in the imaginary part, shaped like ``masked_kspace``."""
        ones = torch.ones_like(masked_kspace[..., :1])
        return torch.cat([ones, torch.zeros_like(ones)], dim=-1)


class E2EVarNet(nn.Module):
    """E2E VarNet: cascades of U-Net refinement and learned-weight data consistency with estimated coil maps.

    Args:
        num_cascades: number of cascades (MONAI ``VarNetBlock``), each with its own U-Net and DC weight.
        chans: U-Net features at full resolution (doubling over 4 poolings, as fastMRI's ``chans``).
        sens_chans: features of the sensitivity U-Net (fastMRI's ``sens_chans``); unused when ``multicoil`` is false.
        multicoil: estimate coil sensitivities from the calibration lines; ``False`` for single-coil data, where the
            one coil's sensitivity is 1.
        unet_topology: ``"monai"`` (MONAI's ``BasicUNet``, the shipped weights) or ``"fastmri"``
            (:class:`~mri_monai.recon.unet.FastMRIUNet`, fastMRI's U-Net layout; needs training).

    Inputs:
        kspace: complex (B, C, H, W) undersampled k-space (C coils, C = 1 for single-coil), zero where not sampled.
        mask: bool mask broadcasting over (B, 1, H, W), e.g. (B, 1, 1, W) for 1D Cartesian masks; when omitted it is
            the set of points that are non-zero in any coil (:func:`sampled_points`).

    Returns:
        float (B, 1, H, W): root-sum-of-squares magnitude of the final k-space's coil images.

    Example::

        net = E2EVarNet(num_cascades=6, chans=8, sens_chans=4)
        image = net(masked_kspace, mask)  # (1, 8, 160, 128) complex64, (1, 1, 1, 128) bool -> (1, 1, 160, 128)
    """

    def __init__(
        self,
        num_cascades: int = 6,
        chans: int = 8,
        sens_chans: int = 4,
        multicoil: bool = True,
        unet_topology: str = "monai",
    ) -> None:
        super().__init__()
        if multicoil:
            sensitivity_unet = ComplexUnet(
                features=unet_features(sens_chans), conv_net=complex_unet_net(sens_chans, unet_topology)
            )
            sensitivity: nn.Module = BatchCoilSensitivityModel(conv_net=sensitivity_unet)
        else:
            sensitivity = UnitSensitivity()
        self.varnet = VariationalNetworkModel(sensitivity, RefinementUnet(chans, unet_topology), num_cascades)

    def forward(self, kspace: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = sampled_points(kspace)
        mask = mask.to(torch.bool)
        while mask.dim() < 4:
            mask = mask.unsqueeze(0)
        image = self.varnet(torch.view_as_real(kspace.to(torch.complex64)), mask.unsqueeze(-1))
        return image.unsqueeze(1)

"""Coil sensitivity estimation from the fully sampled auto-calibration (ACS) region of k-space.

The method is the sensitivity initialisation of E2E VarNet (Sriram et al., MICCAI 2020) without its network:
keep only the fully sampled central region of each coil's k-space (found from the mask), transform to
low-resolution coil images and divide them by their root-sum-of-squares. No ESPIRiT eigen-decomposition:
the maps carry the phase of the object's low-resolution image, which cancels in the magnitude of the
sensitivity-weighted combination.
"""

from __future__ import annotations

import torch

from mri_monai.errors import InputError

from .checks import check_kspace, check_mask
from .coils import rss
from .fft import ifft2c

__all__ = ["calibration_region", "estimate_sensitivities"]


def calibration_region(mask: torch.Tensor, size: tuple[int, int], source: str = "<mask>") -> tuple[slice, slice]:
    """The largest fully sampled rectangle grown from the k-space centre (H // 2, W // 2).

    Starting from the centre point, each side of the rectangle moves outwards while the new row or column
    segment is fully sampled. For a 1D mask of shape (1, W) that gives all H rows and the contiguous central
    sampled columns (as MONAI's and fastMRI's VarNet find ``num_low_frequencies``); for 2D masks, the
    calibration square or a larger fully sampled region around it.

    Args:
        mask: boolean mask broadcasting over (H, W), e.g. (1, W), (H, W) or (1, 1, W).
        size: (H, W).
        source: label for error messages.

    Returns:
        (rows, columns) slices.

    Raises:
        InputError: when the k-space centre is not sampled.
    """
    mask = torch.as_tensor(mask)
    plane = (mask.reshape((-1, *mask.shape[-2:]))[0] if mask.ndim >= 2 else mask.reshape(1, -1)).broadcast_to(size)
    height, width = size
    top, left = height // 2, width // 2
    if not plane[top, left]:
        raise InputError(source, "the mask does not sample the k-space centre, so there is no calibration region")
    bottom, right = top + 1, left + 1
    growing = True
    while growing:
        growing = False
        if top > 0 and plane[top - 1, left:right].all():
            top, growing = top - 1, True
        if bottom < height and plane[bottom, left:right].all():
            bottom, growing = bottom + 1, True
        if left > 0 and plane[top:bottom, left - 1].all():
            left, growing = left - 1, True
        if right < width and plane[top:bottom, right].all():
            right, growing = right + 1, True
    return slice(top, bottom), slice(left, right)


def estimate_sensitivities(
    kspace: torch.Tensor, mask: torch.Tensor, coil_dim: int = -3, source: str = "<kspace>"
) -> torch.Tensor:
    """Coil sensitivities from the auto-calibration region, normalised so that ``sum_c |S_c|^2 = 1``.

    Args:
        kspace: complex (undersampled) k-space with coils along ``coil_dim``, e.g. (C, H, W) or (B, C, H, W).
        mask: the sampling mask, broadcasting over ``kspace`` (e.g. (1, W), (H, W), (1, 1, W)).
        coil_dim: the coil dimension (must not be one of the last two).
        source: label for error messages.

    Returns:
        complex tensor of the shape of ``kspace``; zero where all low-resolution coil images vanish.

    Example::

        sens = estimate_sensitivities(masked_kspace, mask)  # (C, H, W)
        image = sensitivity_combine(ifft2c(kspace), sens)  # SENSE-1 combination
    """
    check_kspace(kspace, source, min_dims=3)
    mask = check_mask(mask, kspace.shape, source)
    rows, columns = calibration_region(mask, tuple(kspace.shape[-2:]), source)
    acs = torch.zeros_like(kspace)
    acs[..., rows, columns] = kspace[..., rows, columns]
    images = ifft2c(acs)
    norm = rss(images, dim=coil_dim).unsqueeze(coil_dim)
    return torch.where(norm > 0, images / norm.clamp_min(torch.finfo(norm.dtype).tiny), torch.zeros_like(images))

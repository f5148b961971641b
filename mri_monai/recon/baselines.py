"""Classical baselines: zero-filled and compressed-sensing (L1-wavelet) reconstructions of undersampled k-space.

Compressed sensing uses sigpy (optional dependency, ``pip install mri-monai[recon]``): coil sensitivities from the
calibration lines by ESPIRiT (``sigpy.mri.app.EspiritCalib``; single-coil data use a sensitivity of 1), then
``sigpy.mri.app.L1WaveletRecon``, which minimises ``||M F S x - y||^2 / 2 + lamda ||W x||_1`` with a Daubechies-4
wavelet ``W``. sigpy's FFTs are centred and orthonormal like ours.
"""

from __future__ import annotations

import numpy as np
import torch

from mri_monai.kspace import calibration_region, check_kspace, check_mask, ifft2c, rss

__all__ = ["zero_filled", "compressed_sensing"]


def zero_filled(kspace: torch.Tensor) -> torch.Tensor:
    """Root-sum-of-squares of the inverse FFT of undersampled k-space.

    Args:
        kspace: complex (..., C, H, W) with zeros where not sampled.

    Returns:
        float (..., H, W).
    """
    check_kspace(kspace, min_dims=3)
    return rss(ifft2c(kspace), dim=-3)


def compressed_sensing(
    kspace: torch.Tensor,
    mask: torch.Tensor,
    lamda: float = 0.003,
    max_iter: int = 30,
    calib_width: int = 24,
    kernel_width: int = 6,
) -> torch.Tensor:
    """L1-wavelet compressed sensing of one undersampled slice, with ESPIRiT coil maps for multi-coil data.

    Args:
        kspace: complex (C, H, W) undersampled k-space (C = 1 for single-coil), best scaled to an image maximum of
            about 1 so that ``lamda`` is meaningful.
        mask: bool mask broadcasting over (H, W), e.g. (1, W) or (1, 1, W).
        lamda: weight of the wavelet L1 term.
        max_iter: iterations of the proximal gradient solver.
        calib_width: largest side of ESPIRiT's square calibration region; limited to the fully sampled centre.
        kernel_width: ESPIRiT kernel size; limited to the calibration width minus one.

    Returns:
        float (H, W) magnitude image.
    """
    import sigpy.mri as mr

    check_kspace(kspace, min_dims=3)
    mask = torch.as_tensor(mask)
    mask = check_mask(mask.reshape(mask.shape[-2:]) if mask.ndim > 2 else mask, kspace.shape[-2:])
    rows, columns = calibration_region(mask, tuple(kspace.shape[-2:]))
    ksp = kspace.detach().cpu().numpy().astype(np.complex64)
    weights = np.broadcast_to(mask.cpu().numpy(), ksp.shape[-2:]).astype(np.float32)
    if ksp.shape[0] == 1:
        sens = np.ones_like(ksp)
    else:
        width = min(calib_width, rows.stop - rows.start, columns.stop - columns.start)
        sens = mr.app.EspiritCalib(
            ksp, calib_width=width, kernel_width=min(kernel_width, width - 1), crop=0.0, show_pbar=False
        ).run()
    image = mr.app.L1WaveletRecon(ksp, sens, lamda, weights=weights, max_iter=max_iter, show_pbar=False).run()
    return torch.from_numpy(np.abs(np.asarray(image)).astype(np.float32))

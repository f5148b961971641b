"""k-space artefacts on complex k-space: rigid motion on some phase-encode lines, and spikes.

Both act on the last two dimensions (H, W) of k-space, H the readout and W the phase-encode direction
(the direction the 1D masks sample). The random transforms in :mod:`mri_monai.kspace.array` draw their
parameters and call these deterministic functions.
"""

from __future__ import annotations

import math

import torch

from .checks import check_kspace

__all__ = ["apply_motion_lines", "apply_kspace_spikes"]


def apply_motion_lines(
    kspace: torch.Tensor, lines: torch.Tensor, shifts: torch.Tensor, source: str = "<kspace>"
) -> torch.Tensor:
    """Rigid in-plane translations on selected phase-encode lines.

    A translation of the object by (dy, dx) pixels multiplies its centred k-space by the linear phase
    ``exp(-2 pi i (ky dy / H + kx dx / W))`` with ``ky = index - H // 2``; applying it to some columns only
    simulates an object that moved while those lines were acquired (ghosting along W). Magnitudes are kept.

    Args:
        kspace: complex k-space (..., H, W); not modified.
        lines: (n,) integer indices of the corrupted columns along W.
        shifts: (n, 2) translations (dy, dx) in pixels, one per line.
        source: label for error messages.

    Returns:
        a new complex tensor of the shape of ``kspace``; columns not in ``lines`` are unchanged.

    Example::

        # the whole k-space shifted by (3, -2): equals torch.roll(image, (3, -2), (-2, -1)) in image space
        out = apply_motion_lines(k, torch.arange(k.shape[-1]), torch.tensor([[3.0, -2.0]]).expand(k.shape[-1], 2))
    """
    check_kspace(kspace, source)
    height, width = kspace.shape[-2:]
    lines = torch.as_tensor(lines, dtype=torch.long).reshape(-1)
    shifts = torch.as_tensor(shifts, dtype=torch.float64).reshape(-1, 2)
    if len(shifts) != len(lines):
        raise ValueError(f"need one (dy, dx) shift per line: {len(lines)} lines, {len(shifts)} shifts")
    if len(lines) and (lines.min() < 0 or lines.max() >= width):
        raise ValueError(f"line indices must lie in [0, {width}), got {lines.tolist()}")
    ky = (torch.arange(height, dtype=torch.float64) - height // 2)[:, None]
    kx = (lines.to(torch.float64) - width // 2)[None, :]
    phase = -2 * math.pi * (ky * shifts[:, 0] / height + kx * shifts[:, 1] / width)
    ramp = torch.polar(torch.ones_like(phase), phase).to(device=kspace.device, dtype=kspace.dtype)
    out = kspace.clone()
    out[..., lines] = kspace[..., lines] * ramp
    return out


def apply_kspace_spikes(
    kspace: torch.Tensor, locations: torch.Tensor, intensities: torch.Tensor, source: str = "<kspace>"
) -> torch.Tensor:
    """Spikes (herringbone artefact): set single k-space points to a large magnitude, keeping their phase.

    As MONAI's ``KSpaceSpikeNoise``, the magnitude at each location is replaced and the phase kept; here the
    magnitude is given relative to the peak magnitude of each coil's k-space (``1.0`` = as bright as the
    coil's DC term) so that the same setting fits data of any scale. All coils see the spike at the same
    location, as a spike is one corrupted sample of the acquisition.

    Args:
        kspace: complex k-space (..., H, W); not modified.
        locations: (n, 2) integer (ky, kx) indices into (H, W).
        intensities: (n,) magnitudes relative to the per-coil peak ``max |k|`` over (H, W).
        source: label for error messages.

    Returns:
        a new complex tensor of the shape of ``kspace``.

    Example::

        out = apply_kspace_spikes(k, torch.tensor([[10, 200]]), torch.tensor([0.5]))
    """
    check_kspace(kspace, source)
    locations = torch.as_tensor(locations, dtype=torch.long).reshape(-1, 2)
    intensities = torch.as_tensor(intensities, dtype=kspace.real.dtype).reshape(-1).to(kspace.device)
    if len(intensities) != len(locations):
        raise ValueError(f"need one intensity per location: {len(locations)} locations, {len(intensities)} values")
    size = torch.tensor(kspace.shape[-2:])
    if len(locations) and ((locations < 0) | (locations >= size)).any():
        raise ValueError(f"spike locations must lie inside (H, W) = {tuple(size.tolist())}: {locations.tolist()}")
    ys, xs = locations[:, 0], locations[:, 1]
    peak = kspace.abs().amax(dim=(-2, -1), keepdim=True)[..., 0]
    values = kspace[..., ys, xs]
    phase = torch.where(values.abs() > 0, torch.sgn(values), torch.ones_like(values))
    out = kspace.clone()
    out[..., ys, xs] = intensities * peak * phase
    return out

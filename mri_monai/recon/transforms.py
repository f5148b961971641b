"""Dictionary transforms of the reconstruction pipelines: load a volume, undersample it reproducibly, normalise.

Training draws random masks per slice with :class:`~mri_monai.kspace.RandUndersampled`; validation, evaluation and
inference use :class:`Undersampled`, whose mask is the one stored in the file (fastMRI test files) or else drawn from
the mask function with a seed made from the file name (and slice), so that every run and every method sees the same
mask, as fastMRI seeds its masks with the file name.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.transforms import MapTransform

from mri_monai.data.fastmri_h5 import read_fastmri_h5
from mri_monai.errors import InputError
from mri_monai.kspace import RandComplexNoise, apply_mask, create_mask_func, ifft2c, rss

__all__ = ["LoadFastMRId", "SeededComplexNoised", "Undersampled", "ZeroFilledScaled", "mask_seed"]


def mask_seed(filename: str, *extra: Any) -> int:
    """A reproducible seed from a file's base name (and e.g. slice index or acceleration)."""
    return zlib.crc32(":".join([os.path.basename(str(filename)), *map(str, extra)]).encode())


class LoadFastMRId(MapTransform):
    """Read a fastMRI HDF5 volume named by ``data[key]`` (through :func:`~mri_monai.data.read_fastmri_h5`).

    Adds ``kspace`` (complex64 (S, C, H, W); single-coil files give C = 1), ``target`` (float32 (S, H', W'), when
    the file has one), ``mask`` (bool (W,), when the file stores one), ``affine`` (float64 (4, 4): the file's
    ``affine`` attribute for the (X, Y, S) volume layout, identity when absent), ``recon_size`` (int64 (2,): the
    target's (H', W'), else the ISMRMRD header's ``reconSpace``, else (H, W)), ``acquisition`` (the file's
    ``acquisition`` attribute, e.g. ``"AXT2"``; ``"unknown"`` when absent) and ``filename``.

    Raises:
        InputError: missing, truncated or non-HDF5 file; missing, real-valued or non-finite ``kspace``; a stored mask
            whose length is not the k-space width.

    Example::

        d = LoadFastMRId("multicoil")({"multicoil": "sub-000/kspace_multicoil.h5"})
        d["kspace"].shape  # (16, 8, 160, 128)
    """

    def __init__(self, keys: str, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            volume = read_fastmri_h5(d[key])
            kspace = torch.from_numpy(volume.kspace)
            d["kspace"] = kspace if volume.multicoil else kspace.unsqueeze(1)
            if volume.reconstruction is not None:
                d["target"] = torch.from_numpy(volume.reconstruction)
            if volume.mask is not None:
                d["mask"] = torch.from_numpy(np.asarray(volume.mask) != 0)
            affine = np.asarray(volume.attrs.get("affine", np.eye(4)), dtype=np.float64)
            if affine.shape != (4, 4) or not np.isfinite(affine).all():
                raise InputError(volume.path, f"attribute 'affine' must be a finite (4, 4) matrix, got {affine.shape}")
            d["affine"] = torch.from_numpy(affine)
            if volume.reconstruction is not None:
                recon_size = volume.reconstruction.shape[-2:]
            else:
                recon_size = volume.recon_size or volume.kspace.shape[-2:]
            d["recon_size"] = torch.tensor([int(n) for n in recon_size])
            d["acquisition"] = str(volume.attrs.get("acquisition", "unknown"))
            d["filename"] = str(volume.path)
        return d


class Undersampled(MapTransform):
    """Undersample k-space with a stored mask, or a mask drawn reproducibly from the file name.

    When ``data[mask_key]`` exists (a fastMRI test file's mask) it is used as it is. Otherwise one mask of
    ``mask_type`` is drawn with the seed :func:`mask_seed` of ``data["filename"]`` (plus ``data["slice"]`` when
    present) and the acceleration. The acceleration is ``data[acceleration_key]`` when the item names one (it must
    be one of ``accelerations``; its centre fraction is used), else one of the configured pairs chosen by the seed.
    A (W,) or (1, W) mask is reshaped to broadcast over the last dimension; one mask serves all slices of a volume.

    Args:
        keys: complex k-space keys, (C, H, W) slices or (S, C, H, W) volumes.
        mask_type, center_fractions, accelerations: as :func:`~mri_monai.kspace.create_mask_func`.
        mask_key: where the mask is read from (when stored) and written to.
        acceleration_key: item key naming the nominal acceleration to use (optional).
        real_acceleration_key: where the real acceleration (grid points / sampled points) is written.

    Raises:
        InputError: a stored mask that does not broadcast over the k-space; a requested acceleration that is not
            configured.

    Example::

        t = Undersampled("kspace", "random", [0.08, 0.04], [4, 8])
        out = t({"kspace": kspace, "filename": "sub-000.h5", "acceleration": 8})  # out["mask"]: (1, 1, 1, W)
    """

    def __init__(
        self,
        keys: str | Sequence[str],
        mask_type: str = "random",
        center_fractions: Sequence[float] = (0.08, 0.04),
        accelerations: Sequence[float] = (4.0, 8.0),
        mask_key: str = "mask",
        acceleration_key: str = "acceleration",
        real_acceleration_key: str = "real_acceleration",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.real_acceleration_key = real_acceleration_key
        self.mask_type = mask_type
        self.pairs = {float(a): float(c) for c, a in zip(center_fractions, accelerations, strict=True)}
        self.mask_func = create_mask_func(mask_type, center_fractions, accelerations)
        self.mask_key = mask_key
        self.acceleration_key = acceleration_key

    def _mask(self, d: Mapping[Hashable, Any], shape: tuple[int, ...]) -> tuple[torch.Tensor, float]:
        if self.mask_key in d:
            mask = torch.as_tensor(d[self.mask_key]).to(torch.bool)
            return mask, shape[-1] / max(int(mask.sum()), 1)
        name = str(d.get("filename", ""))
        mask_func = self.mask_func
        requested = d.get(self.acceleration_key)
        if requested is not None:
            if float(requested) not in self.pairs:
                raise InputError(name, f"acceleration {requested} is not one of the configured {sorted(self.pairs)}")
            mask_func = create_mask_func(self.mask_type, [self.pairs[float(requested)]], [float(requested)])
        sampled = mask_func(shape, seed=mask_seed(name, d.get("slice", ""), requested))
        return sampled.mask, sampled.acceleration

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            kspace = d[key]
            mask, acceleration = self._mask(d, tuple(kspace.shape))
            if mask.ndim <= 2 and mask.shape[0] == mask.numel():  # a stored (W,) mask
                mask = mask.reshape(1, -1)
            source = str(d.get("filename", f"data[{key!r}]"))
            d[key] = apply_mask(kspace, mask, source)
            mask = mask.reshape((1,) * (kspace.ndim - mask.ndim) + tuple(mask.shape))
            d[self.mask_key] = mask
            d[self.real_acceleration_key] = float(acceleration)
        return d


class SeededComplexNoised(MapTransform):
    """Complex Gaussian k-space noise at an SNR drawn from a range, reproducibly per file and slice.

    The validation counterpart of :class:`~mri_monai.kspace.RandComplexNoised`: the SNR (log-uniform in
    ``snr_range``) and the noise come from the seed :func:`mask_seed` of ``data["filename"]`` and ``data["slice"]``,
    so that every epoch validates on the same noisy slices. Apply it to fully sampled k-space, before undersampling.

    Args:
        keys: complex k-space keys, (C, H, W) slices.
        snr_range: (low, high) linear SNR (mean RSS over the object / noise std of each real and imaginary part).
        prob: fraction of the slices that get noise (which ones is seeded too); 0 turns the transform off, e.g.
            for real data that carry their own noise.

    Example::

        d = SeededComplexNoised("kspace", (5, 200))({"kspace": kspace, "filename": "sub-000.h5", "slice": 3})
    """

    def __init__(
        self,
        keys: str | Sequence[str],
        snr_range: Sequence[float] = (5.0, 200.0),
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.noise = RandComplexNoise(prob, (float(snr_range[0]), float(snr_range[1])), log_uniform=True)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.noise.set_random_state(mask_seed(str(d.get("filename", "")), d.get("slice", ""), "noise") % 2**32)
        self.noise.randomize()
        for key in self.key_iterator(d):
            d[key] = self.noise(d[key], randomize=False)
        return d


class ZeroFilledScaled(MapTransform):
    """Zero-filled RSS image of undersampled k-space, and the k-space and target divided by its maximum.

    Each slice is scaled by the maximum of its own zero-filled magnitude (the data available at inference time), so
    the network sees images of maximum about 1; multiply the network output by ``data[scale_key]`` to undo it.

    Args:
        keys: complex k-space keys, (C, H, W) slices or (S, C, H, W) volumes (coils in dimension -3).
        target_key: a target image divided by the same scale when present ((1, H, W) or (S, H, W)).
        zero_filled_key: where the unscaled zero-filled image is written ((1, H, W) or (S, H, W)).
        scale_key: where the scale is written (float32 (1,) for a slice, (S,) for a volume).

    Example::

        d = ZeroFilledScaled("kspace")({"kspace": masked_kspace, "target": target})
        d["scale"], d["zero_filled"].shape  # tensor([2.3e-03]), (1, 160, 128)
    """

    def __init__(
        self,
        keys: str | Sequence[str],
        target_key: str = "target",
        zero_filled_key: str = "zero_filled",
        scale_key: str = "scale",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.target_key = target_key
        self.zero_filled_key = zero_filled_key
        self.scale_key = scale_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            kspace = d[key]
            zero_filled = rss(ifft2c(kspace), dim=-3)
            zero_filled = zero_filled if kspace.ndim == 4 else zero_filled.reshape(1, *zero_filled.shape[-2:])
            scale = zero_filled.reshape(zero_filled.shape[0], -1).amax(dim=1)
            if not bool((scale > 0).all()):
                raise InputError(str(d.get("filename", key)), "undersampled k-space is zero in a slice")
            d[key] = kspace / scale.reshape(-1, *(1,) * (kspace.ndim - 1)) if kspace.ndim == 4 else kspace / scale
            if self.target_key in d:
                d[self.target_key] = d[self.target_key] / scale.reshape(-1, 1, 1)
            d[self.zero_filled_key] = zero_filled
            d[self.scale_key] = scale.to(torch.float32)
        return d

"""Tissue fractions from the MNI152 2009 template that ships inside the nilearn wheel.

The ICBM 2009a symmetric T1, GM and WM maps (197 x 233 x 189 at 1 mm, uint8) are read from the
installed ``nilearn`` package; nothing is downloaded. CSF is the filled brain mask minus GM and WM.
Everything derived from these maps carries :data:`MNI_NOTICE`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import BorderPad, Spacing, SpatialCrop
from scipy import ndimage

__all__ = ["MNI_NOTICE", "TissueMaps", "mni152_path", "load_tissue_maps"]

MNI_NOTICE = """\
Derived from the ICBM 2009a Nonlinear Symmetric MNI152 template:
Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological
Institute, McGill University. Permission to use, copy, modify, and distribute this software and its
documentation for any purpose and without fee is hereby granted, provided that the above copyright
notice appear in all copies. The authors and McGill University make no representations about the
suitability of this software for any purpose. It is provided "as is" without express or implied
warranty. The authors are not responsible for any data loss, equipment damage, property loss, or
injury to subjects or patients resulting from the use or misuse of this software package.
References: Fonov et al., NeuroImage 54(1) 2011; Fonov et al., NeuroImage 47 S102 2009;
Collins et al., Lecture Notes in Computer Science 1679, 1999.
The images here are SYNTHETIC subjects simulated from that template, not scans of people.
"""

_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


@dataclass(frozen=True)
class TissueMaps:
    """Template tissue fractions on one voxel grid.

    Attributes:
        gm, wm, csf: float32 fractions in [0, 1], shape (X, Y, Z), summing to ``mask``.
        mask: float32 brain mask in {0, 1}, shape (X, Y, Z).
        t1: the template's own T1-weighted image scaled to [0, 1] (for checks), shape (X, Y, Z).
        affine: 4 x 4 voxel-to-RAS (mm) affine of the grid.
    """

    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    mask: np.ndarray
    t1: np.ndarray
    affine: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.gm.shape)  # type: ignore[return-value]

    @property
    def voxel_size(self) -> tuple[float, ...]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))


def mni152_path(name: str) -> str:
    """Path of a template map inside the installed nilearn package (``name`` in t1, gm, wm)."""
    try:
        import nilearn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the synthetic data need nilearn (pip install 'mri-monai[data]')") from e
    path = os.path.join(os.path.dirname(nilearn.__file__), "datasets", "data", _FILES[name])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: MNI152 map missing from the nilearn installation")
    return path


@functools.lru_cache(maxsize=1)
def _template_1mm() -> tuple[dict[str, np.ndarray], np.ndarray]:
    maps = {}
    affine = None
    for name in _FILES:
        img = nib.load(mni152_path(name))
        maps[name] = np.asarray(img.dataobj, dtype=np.float32) / 255.0
        affine = img.affine
    return maps, np.asarray(affine, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _load_cached(voxel_size: tuple[float, float, float], shape: tuple[int, int, int] | None) -> TissueMaps:
    maps, affine = _template_1mm()
    mask = ndimage.binary_fill_holes(maps["t1"] > 0).astype(np.float32)
    gm = maps["gm"] * mask
    wm = maps["wm"] * mask
    stack = np.stack([gm, wm, maps["t1"], mask])
    img = MetaTensor(torch.from_numpy(stack), affine=torch.from_numpy(affine))
    if any(abs(v - 1.0) > 1e-6 for v in voxel_size):
        img = Spacing(pixdim=voxel_size, mode="bilinear", padding_mode="zeros")(img)
    if shape is not None:
        # centre the crop on the brain, not on the template's field of view (which cuts the cerebellum)
        brain = np.argwhere(img[3].numpy() > 0.5)
        centre = (brain.min(axis=0) + brain.max(axis=0)) / 2.0
        img = BorderPad(spatial_border=list(shape))(img)
        img = SpatialCrop(roi_center=[int(round(c)) + s for c, s in zip(centre, shape, strict=True)], roi_size=shape)(
            img
        )
    arr = img.numpy().astype(np.float32)
    gm, wm, t1, mask = (np.clip(a, 0.0, 1.0) for a in arr)
    # partial-volume mask after resampling; CSF fills what GM and WM leave inside it
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.clip(mask - gm - wm, 0.0, 1.0)
    mask = np.clip(gm + wm + csf, 0.0, 1.0)
    for a in (gm, wm, csf, mask, t1):
        a.setflags(write=False)
    return TissueMaps(gm=gm, wm=wm, csf=csf, mask=mask, t1=t1, affine=np.asarray(img.affine, dtype=np.float64))


def load_tissue_maps(voxel_size: float | Sequence[float] = 1.0, shape: Sequence[int] | None = None) -> TissueMaps:
    """Template GM/WM/CSF fractions resampled to ``voxel_size`` mm and centre-cropped/padded to ``shape``.

    Args:
        voxel_size: isotropic voxel size in mm, or one per axis (x, y, z).
        shape: output grid (X, Y, Z); ``None`` keeps the whole resampled template.

    Returns:
        read-only :class:`TissueMaps` (cached per grid).

    Example::

        maps = load_tissue_maps(2.0, (80, 96, 80))
        maps.gm.shape  # (80, 96, 80)
    """
    vs = (float(voxel_size),) * 3 if np.isscalar(voxel_size) else tuple(float(v) for v in voxel_size)  # type: ignore[arg-type]
    if len(vs) != 3 or min(vs) <= 0:
        raise ValueError(f"voxel_size must be positive, one value or three, got {voxel_size}")
    shp = None if shape is None else tuple(int(s) for s in shape)
    if shp is not None and len(shp) != 3:
        raise ValueError(f"shape must have three entries, got {shape}")
    return _load_cached(vs, shp)  # type: ignore[arg-type]

"""Post-processing of reconstructed volumes: undo the scale, NIfTI volume layout, fastMRI submission HDF5, figure.

Output paths keep the input's folder relative to ``data_root_dir`` (as MONAI's ``SaveImaged`` with
``separate_folder=False``): for ``<data_root>/sub-003/kspace_multicoil.h5`` and postfix ``varnet``,

- ``SaveImaged`` on the :class:`ToVolumed` output writes ``<output_dir>/sub-003/kspace_multicoil_varnet.nii.gz``;
- :class:`SaveSubmissiond` writes ``<output_dir>/submission/sub-003/kspace_multicoil.h5`` (dataset
  ``reconstruction``, (slices, H, W) float32, named as the input as fastMRI's submissions are);
- :class:`SaveComparisonFigured` writes ``<output_dir>/sub-003/kspace_multicoil_varnet.png``.

The HDF5 and PNG files are written atomically (complete or absent).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform
from monai.utils import convert_to_numpy

from mri_monai.data.acquisition import slices_to_volume
from mri_monai.data.fastmri_h5 import write_submission_h5
from mri_monai.data.provenance import source_title
from mri_monai.figures import display_slice, grey_window, panel_figure, save_figure, to_grey

__all__ = [
    "CropToReconSized",
    "RescaleOutputd",
    "ToVolumed",
    "SaveSubmissiond",
    "SaveComparisonFigured",
    "relative_output",
]


def relative_output(filename: str, output_dir: str | os.PathLike, data_root_dir: str | os.PathLike) -> Path:
    """``output_dir / (filename's folder relative to data_root_dir) / filename's stem`` (no suffix)."""
    path = Path(filename)
    try:
        folder = path.parent.resolve().relative_to(Path(data_root_dir).resolve())
    except ValueError:
        folder = Path()
    return Path(output_dir) / folder / path.name.split(".")[0]


class RescaleOutputd(MapTransform):
    """Multiply (S, H, W) images by the per-slice ``data[scale_key]`` (S,): undo :class:`~.ZeroFilledScaled`."""

    def __init__(self, keys: str | Sequence[str], scale_key: str = "scale", allow_missing_keys: bool = True) -> None:
        super().__init__(keys, allow_missing_keys)
        self.scale_key = scale_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        scale = torch.as_tensor(d[self.scale_key]).reshape(-1, 1, 1)
        for key in self.key_iterator(d):
            d[key] = torch.as_tensor(d[key]).detach().cpu() * scale.cpu()
        return d


class CropToReconSized(MapTransform):
    """Centre-crop (S, H, W) images to ``data[size_key]`` (H', W'), as fastMRI crops to the ``reconSpace`` size.

    Real fastMRI multi-coil files hold oversampled k-space (e.g. 640 x 320) and 320 x 320 references; images that are
    already no larger than the size are left as they are.
    """

    def __init__(self, keys: str | Sequence[str], size_key: str = "recon_size", allow_missing_keys: bool = True):
        super().__init__(keys, allow_missing_keys)
        self.size_key = size_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.size_key not in d:
            return d
        height, width = (int(n) for n in torch.as_tensor(d[self.size_key]).reshape(-1)[:2])
        for key in self.key_iterator(d):
            image = torch.as_tensor(d[key])
            top, left = max((image.shape[-2] - height) // 2, 0), max((image.shape[-1] - width) // 2, 0)
            d[key] = image[..., top : top + min(height, image.shape[-2]), left : left + min(width, image.shape[-1])]
        return d


class ToVolumed(MapTransform):
    """(S, H, W) slices to a channel-first (1, X, Y, S) ``MetaTensor`` in the geometry of the file's ``affine``.

    The layout is :func:`mri_monai.data.acquisition.slices_to_volume`; the meta dict holds ``affine`` (the file's
    attribute, identity when absent) and ``filename_or_obj`` (the input file) for ``SaveImaged``.

    Args:
        keys: (S, H, W) image keys.
        output_keys: where the volumes are written (one per key).
        affine_key, filename_key: item keys holding the (4, 4) affine and the input file name.
    """

    def __init__(
        self,
        keys: str | Sequence[str],
        output_keys: str | Sequence[str],
        affine_key: str = "affine",
        filename_key: str = "filename",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_keys = [output_keys] if isinstance(output_keys, str) else list(output_keys)
        self.affine_key = affine_key
        self.filename_key = filename_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        affine = torch.as_tensor(d.get(self.affine_key, torch.eye(4)), dtype=torch.float64)
        for key, out in self.key_iterator(d, self.output_keys):
            volume = slices_to_volume(torch.as_tensor(d[key]).detach().cpu().numpy().astype(np.float32))
            meta = {"original_affine": affine, "filename_or_obj": str(d[self.filename_key])}
            meta["spatial_shape"] = np.asarray(volume.shape)
            d[out] = MetaTensor(torch.from_numpy(volume)[None], affine=affine, meta=meta)
        return d


class SaveSubmissiond(MapTransform):
    """Write (S, H, W) reconstructions in fastMRI's submission layout (see the module docstring for the path)."""

    def __init__(
        self,
        keys: str,
        output_dir: str | os.PathLike,
        data_root_dir: str | os.PathLike,
        filename_key: str = "filename",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_dir = Path(output_dir) / "submission"
        self.data_root_dir = data_root_dir
        self.filename_key = filename_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            source = str(d[self.filename_key])
            path = relative_output(source, self.output_dir, self.data_root_dir).with_suffix(".h5")
            write_submission_h5(path, torch.as_tensor(d[key]).numpy(), inputs=[source], overwrite=True)
        return d


def _volume(slices: torch.Tensor | np.ndarray) -> np.ndarray:
    """(S, H, W) slices as the (X, Y, S) volume :class:`ToVolumed` saves (what :mod:`mri_monai.figures` slices)."""
    return slices_to_volume(convert_to_numpy(slices, dtype=np.float32))


class SaveComparisonFigured(MapTransform):
    """PNG of the middle slice: zero-filled, network and, when the file has one, reference and |error|.

    All panels share the grey window of the zero-filled image (the input), the error panel one 5 times narrower
    from 0 (orientation and window: :mod:`mri_monai.figures`; a slice is drawn as fastMRI lays it out). The title
    names the input file and says "synthetic" only for files this project made
    (:func:`~mri_monai.data.provenance.source_title`).

    Args:
        keys: the network's (S, H, W) reconstruction.
        output_dir, data_root_dir, output_postfix: the PNG path (see the module docstring).
        zero_filled_key, target_key: item keys of the zero-filled image and the reference (optional).
        title: figure title prefix.
    """

    def __init__(
        self,
        keys: str,
        output_dir: str | os.PathLike,
        data_root_dir: str | os.PathLike,
        output_postfix: str,
        zero_filled_key: str = "zero_filled",
        target_key: str = "target",
        filename_key: str = "filename",
        title: str = "",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_dir, self.data_root_dir, self.output_postfix = output_dir, data_root_dir, output_postfix
        self.zero_filled_key, self.target_key, self.filename_key = zero_filled_key, target_key, filename_key
        self.title = title

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            pred = _volume(d[key])
            middle = pred.shape[2] // 2
            zero_filled, network = display_slice(_volume(d[self.zero_filled_key]), 2, middle), display_slice(pred)
            low, high = window = grey_window(zero_filled)
            panels = [("zero-filled", to_grey(zero_filled, window)), ("network", to_grey(network, window))]
            if self.target_key in d:
                target = display_slice(_volume(d[self.target_key]), 2, middle)
                error = to_grey(np.abs(network - target), (0.0, (high - low) / 5))
                panels += [("reference", to_grey(target, window)), ("|network - reference|", error)]
            source = str(d[self.filename_key])
            suptitle = f"{self.title} {source_title(source, self.data_root_dir)} slice {middle}".strip()
            stem = relative_output(source, self.output_dir, self.data_root_dir)
            path = stem.with_name(f"{stem.name}_{self.output_postfix}.png")
            save_figure(panel_figure(panels, suptitle), path, inputs=[source], dpi=90)
        return d

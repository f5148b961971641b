"""A PNG beside each output image: input, output and (when one exists) reference, side by side."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.data import FolderLayout
from monai.transforms import MapTransform
from monai.utils import ImageMetaKey, convert_to_numpy, ensure_tuple

from mri_monai.figures import display_slice, grey_window, panel_figure, save_figure, to_grey

__all__ = ["SaveComparisonPNGd"]


class SaveComparisonPNGd(MapTransform):
    """Save a PNG of the middle slice of several images of an item side by side, named like ``SaveImaged`` names.

    The PNG of an item read from ``<data_root_dir>/sub-003/t1w.nii.gz`` is
    ``<output_dir>/sub-003/t1w_<output_postfix>.png`` (MONAI's :class:`~monai.data.FolderLayout`, as ``SaveImaged``
    with ``separate_folder=False``), so it lies beside the saved NIfTI. Missing keys are skipped (a reference
    exists only for simulated noise), all panels share the grey window of the first key (orientation and window:
    :mod:`mri_monai.figures`), and the file is written atomically.

    Args:
        keys: keys of channel-first images (C, H, W[, D]) to show, left to right; the first names the file.
        titles: panel titles, one per key (default: the keys).
        output_dir: root folder of the PNGs.
        output_postfix: appended to the input's file name.
        data_root_dir: the part of the input's path not repeated under ``output_dir``.
        dpi: resolution of the PNG.

    Example (config)::

        {"_target_": "mri_monai.denoising.figures.SaveComparisonPNGd", "keys": ["image", "pred", "reference"],
         "titles": ["input", "denoised", "reference"], "output_dir": "@output_dir",
         "output_postfix": "denoised", "data_root_dir": "@dataset_dir"}
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_dir: str | os.PathLike,
        titles: Sequence[str] | None = None,
        output_postfix: str = "",
        data_root_dir: str | os.PathLike = "",
        dpi: int = 100,
    ) -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.titles = tuple(str(k) for k in self.keys) if titles is None else tuple(ensure_tuple(titles))
        if len(self.titles) != len(self.keys):
            raise ValueError(f"need one title per key, got {self.titles} for {self.keys}")
        self.layout = FolderLayout(
            output_dir, postfix=output_postfix, extension=".png", makedirs=True, data_root_dir=data_root_dir
        )
        self.data_root_dir = str(data_root_dir)
        self.dpi = dpi

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Write the PNG of the item; return the item unchanged."""
        d = dict(data)
        present = [(key, title) for key, title in zip(self.keys, self.titles, strict=True) if key in d]
        source = str(d[self.keys[0]].meta[ImageMetaKey.FILENAME_OR_OBJ])
        pictures = [(title, display_slice(convert_to_numpy(d[key])[0])) for key, title in present]
        window = grey_window(pictures[0][1])
        inside = self.data_root_dir and not os.path.relpath(source, self.data_root_dir).startswith("..")
        suptitle = os.path.relpath(source, self.data_root_dir) if inside else os.path.basename(source)
        fig = panel_figure([(title, to_grey(picture, window)) for title, picture in pictures], suptitle)
        save_figure(fig, self.layout.filename(subject=source), inputs=[source], dpi=self.dpi)
        return d

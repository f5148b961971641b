"""PNG figures of a network's input, output and (when known) reference side by side, for 3D volumes.

Used by super-resolution and translation. The slices cut across a chosen axis, e.g. across the in-plane axes so that
the through-plane direction (thick slices) is visible.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data.folder_layout import FolderLayout
from monai.transforms import MapTransform
from monai.utils import ImageMetaKey, ensure_tuple

from mri_monai.data.provenance import source_title
from mri_monai.figures import display_slice, grey_window, panel_figure, save_figure, to_grey

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SaveSuperResolutionPNGd", "comparison_figure"]


def comparison_figure(
    images: Sequence[torch.Tensor | np.ndarray], titles: Sequence[str], axis: int = 1, suptitle: str = ""
) -> Figure:
    """A figure of the middle slice across ``axis`` of each image, in the grey window of the first (the input).

    Orientation and window: :mod:`mri_monai.figures`.

    Args:
        images: (C, X, Y, Z) or (X, Y, Z) images on the same grid, the input first.
        titles: one title per image.
        axis: the axis the slices cut across; for thick slices along the third axis, 0 (sagittal) or 1 (coronal)
            shows the through-plane direction.
        suptitle: title of the whole figure (e.g. the input file), none when empty.

    Returns:
        the :class:`matplotlib.figure.Figure`.
    """
    pictures = [display_slice(image, axis) for image in images]
    window = grey_window(pictures[0])
    return panel_figure([(t, to_grey(p, window)) for p, t in zip(pictures, titles, strict=True)], suptitle)


class SaveSuperResolutionPNGd(MapTransform):
    """Write a PNG with the images of ``keys`` side by side, named like ``SaveImaged``'s output.

    ``<output_dir>/<input path relative to data_root_dir without its suffix>_<postfix>.png``, e.g.
    ``out/sub-003/t1w_sr.png`` for ``data_root_dir/sub-003/t1w.nii.gz``. Keys missing from an item (or holding
    ``None``) are left out of its figure (e.g. the reference when the input is already low resolution). The figure
    is titled with the input file (:func:`~mri_monai.data.provenance.source_title`).

    Args:
        keys: keys of the images, in display order; the first one present names the file.
        titles: one title per key.
        output_dir: output folder.
        output_postfix: postfix of the file name.
        data_root_dir: the part of the input path left out of the output path.
        axis: slice axis (see :func:`comparison_figure`).
    """

    def __init__(
        self,
        keys: KeysCollection,
        titles: Sequence[str],
        output_dir: str | os.PathLike,
        output_postfix: str = "sr",
        data_root_dir: str | os.PathLike = "",
        axis: int = 1,
    ) -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.titles = ensure_tuple(titles)
        if len(self.titles) != len(self.keys):
            raise ValueError(f"need one title per key, got {len(self.titles)} titles for {len(self.keys)} keys")
        self.layout = FolderLayout(
            output_dir, postfix=output_postfix, extension=".png", makedirs=True, data_root_dir=data_root_dir
        )
        self.axis = axis
        self.data_root_dir = data_root_dir

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Write the figure of ``data``; return ``data`` unchanged."""
        d = dict(data)
        present = [(d[k], t) for k, t in zip(self.keys, self.titles, strict=True) if d.get(k) is not None]
        name = present[0][0].meta[ImageMetaKey.FILENAME_OR_OBJ]
        title = source_title(name, self.data_root_dir or None)
        fig = comparison_figure([p[0] for p in present], [p[1] for p in present], self.axis, title)
        save_figure(fig, self.layout.filename(name), inputs=[name])
        return d

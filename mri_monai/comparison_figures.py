"""PNG figures of a network's input, output and (when known) reference side by side, for 3D volumes.

Used by super-resolution and translation. The slices cut across a chosen axis, e.g. across the in-plane axes so that
the through-plane direction (thick slices) is visible.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data.folder_layout import FolderLayout
from monai.transforms import MapTransform
from monai.utils import ImageMetaKey, ensure_tuple

from mri_monai.data.atomic import atomic_output
from mri_monai.data.provenance import source_title

__all__ = ["SaveSuperResolutionPNGd", "comparison_figure"]


def _slice(image: torch.Tensor | np.ndarray, axis: int) -> np.ndarray:
    """The middle slice across ``axis`` (0-2) of a (C, X, Y, Z) or (X, Y, Z) image, oriented for display."""
    array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
    array = array[0] if array.ndim == 4 else array
    plane = np.take(array, array.shape[axis] // 2, axis=axis)
    return np.rot90(plane)  # RAS voxel axes: the second in-plane axis points up


def comparison_figure(
    images: Sequence[torch.Tensor | np.ndarray], titles: Sequence[str], axis: int = 1, suptitle: str = ""
):
    """A matplotlib figure of the middle slice across ``axis`` of each image, on a shared grey scale.

    Args:
        images: (C, X, Y, Z) or (X, Y, Z) images on the same grid.
        titles: one title per image.
        axis: the axis the slices cut across; for thick slices along the third axis, 0 (sagittal) or 1 (coronal)
            shows the through-plane direction.
        suptitle: title of the whole figure (e.g. the input file), none when empty.

    Returns:
        the :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    planes = [_slice(image, axis) for image in images]
    vmax = max(float(np.percentile(p, 99.5)) for p in planes) or 1.0
    fig = Figure(figsize=(3.2 * len(planes), 3.6))
    for i, (plane, title) in enumerate(zip(planes, titles, strict=True)):
        ax = fig.add_subplot(1, len(planes), i + 1)
        ax.imshow(plane, cmap="gray", vmin=0.0, vmax=vmax, interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


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
        with atomic_output(self.layout.filename(name)) as tmp:
            fig.savefig(tmp, dpi=100)
        return d

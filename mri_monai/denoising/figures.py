"""A PNG beside each output image: input, output and (when one exists) reference, side by side."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import FolderLayout
from monai.transforms import MapTransform
from monai.utils import ImageMetaKey, ensure_tuple

from mri_monai.data.atomic import atomic_output

__all__ = ["SaveComparisonPNGd", "middle_slice"]


def middle_slice(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """The middle slice along the last axis of a channel-first image, rotated for display.

    Args:
        image: (C, H, W) or (C, H, W, D); channel 0 is shown.

    Returns:
        (W, H) float array: ``np.rot90`` of the slice, so that a RAS volume shows anterior up.
    """
    array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)[0]
    if array.ndim == 3:
        array = array[..., array.shape[-1] // 2]
    return np.rot90(array)


class SaveComparisonPNGd(MapTransform):
    """Save a PNG of the middle slice of several images of an item side by side, named like ``SaveImaged`` names.

    The PNG of an item read from ``<data_root_dir>/sub-003/t1w.nii.gz`` is
    ``<output_dir>/sub-003/t1w_<output_postfix>.png`` (MONAI's :class:`~monai.data.FolderLayout`, as ``SaveImaged``
    with ``separate_folder=False``), so it lies beside the saved NIfTI. Missing keys are skipped (a reference
    exists only for simulated noise), all panels share the grey-level window of the first key, and the file is
    written atomically.

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
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        d = dict(data)
        present = [(key, title) for key, title in zip(self.keys, self.titles, strict=True) if key in d]
        first = d[self.keys[0]]
        source = str(first.meta[ImageMetaKey.FILENAME_OR_OBJ])
        panels = [(title, middle_slice(d[key])) for key, title in present]
        low, high = np.percentile(panels[0][1], (0.5, 99.5))
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
        for ax, (title, image) in zip(axes[0], panels, strict=True):
            ax.imshow(image, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
            ax.set_title(title, fontsize=10)
            ax.axis("off")
        inside = self.data_root_dir and not os.path.relpath(source, self.data_root_dir).startswith("..")
        fig.suptitle(os.path.relpath(source, self.data_root_dir) if inside else os.path.basename(source), fontsize=9)
        fig.tight_layout()
        with atomic_output(self.layout.filename(subject=source)) as tmp:
            fig.savefig(tmp, dpi=self.dpi, format="png")
        plt.close(fig)
        return d

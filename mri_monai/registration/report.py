"""Registration figures on one axial slice of the fixed grid: the warped image, a checkerboard with the fixed image,
label overlays, the deformation grid and the Jacobian determinant map.

- :func:`comparison_figure`: one row per compared method (``compare-registration``, the bundle's evaluation);
- :func:`pair_figure` and :class:`SaveRegistrationPNGd`: one pair's moving, fixed and warped images with the same
  panels, written beside the bundle's inference output.

The images are drawn in the grey window of the fixed image's slice (orientation and window: :mod:`mri_monai.figures`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import FolderLayout
from monai.transforms import MapTransform
from monai.utils import ImageMetaKey, convert_to_numpy

from mri_monai.data import jacobian_determinant
from mri_monai.figures import display_slice, grey_window, save_figure, show, to_grey

from .methods import MethodResult
from .pair import RegistrationPair

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = ["comparison_figure", "checkerboard", "pair_figure", "SaveRegistrationPNGd"]


def checkerboard(a: np.ndarray, b: np.ndarray, tiles: int = 8) -> np.ndarray:
    """Alternate square tiles of two (H, W) pictures, ``a``'s in the top left corner (about ``tiles`` per side)."""
    h, w = a.shape
    size = max(1, max(h, w) // tiles)
    mask = ((np.arange(h)[:, None] // size) + (np.arange(w)[None, :] // size)) % 2 == 0
    return np.where(mask, a, b)


def _grid_lines(ax: Axes, ddf_slice: np.ndarray, step: int = 4) -> None:
    """Draw the deformed grid: fixed voxel (x, y) drawn at (x + u_x, y + u_y)."""
    _, h, w = ddf_slice.shape
    xs, ys = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    px, py = xs + ddf_slice[0], ys + ddf_slice[1]
    for i in range(0, h, step):
        ax.plot(px[i, :], py[i, :], color="k", linewidth=0.4)
    for j in range(0, w, step):
        ax.plot(px[:, j], py[:, j], color="k", linewidth=0.4)
    ax.set_xlim(0, h - 1)
    ax.set_ylim(0, w - 1)
    ax.set_aspect("equal")


def _deformation_panels(grid_ax: Axes, det_ax: Axes, ddf: np.ndarray, z: int) -> AxesImage:
    """Deformation grid (in-plane components) and Jacobian determinant (blue < 1 < red, folding outlined in black)
    of the (3, X, Y, Z) ``ddf`` on axial slice ``z``; returns the determinant's image, for a colour bar."""
    _grid_lines(grid_ax, ddf[:, :, :, z])
    grid_ax.set_xticks([])
    grid_ax.set_yticks([])
    det = display_slice(jacobian_determinant(ddf), 2, z)
    image = show(det_ax, det, cmap="RdBu_r", vmin=0.0, vmax=2.0)
    if (det <= 0).any():
        det_ax.contour(det <= 0, levels=[0.5], colors="k", linewidths=0.6)
    return image


def _pictures(fixed: np.ndarray, z: int, *images: np.ndarray) -> list[np.ndarray]:
    """Axial slice ``z`` of the (X, Y, Z) ``fixed`` and of each of ``images``, in the fixed slice's grey window."""
    pictures = [display_slice(image, 2, z) for image in (fixed, *images)]
    window = grey_window(pictures[0])
    return [to_grey(picture, window) for picture in pictures]


def comparison_figure(
    pair: RegistrationPair, results: dict[str, MethodResult], path: str | os.PathLike, title: str = ""
) -> Figure:
    """Write a PNG with one row per method and the fixed image on top (middle axial slice).

    Columns: warped moving image; checkerboard of fixed and warped; fixed image with fixed (green) and warped
    moving (red) label contours; deformation grid (in-plane components); Jacobian determinant (blue < 1 < red,
    folding outlined in black).

    Returns:
        the matplotlib figure (shown by Jupyter when it is a cell's value).
    """
    from matplotlib.figure import Figure

    z = pair.fixed.shape[2] // 2
    fixed, *warped_images = _pictures(pair.fixed, z, *(result.warped for result in results.values()))
    columns = ["warped moving", "checkerboard", "labels: fixed (green) / warped (red)", "deformation grid", "det J"]
    fig = Figure(figsize=(2.4 * len(columns), 2.5 * len(results)))
    axes = np.atleast_2d(fig.subplots(len(results), len(columns)))
    for row, (name, result), warped in zip(axes, results.items(), warped_images, strict=True):
        show(row[0], warped)
        row[0].set_ylabel(name, fontsize=9)
        show(row[1], checkerboard(fixed, warped))
        show(row[2], fixed)
        if pair.fixed_labels is not None and result.warped_labels is not None:
            levels = np.unique(pair.fixed_labels)[1:] - 0.5
            row[2].contour(display_slice(pair.fixed_labels, 2, z), levels=levels, colors="lime", linewidths=0.5)
            row[2].contour(display_slice(result.warped_labels, 2, z), levels=levels, colors="red", linewidths=0.5)
        image = _deformation_panels(row[3], row[4], result.ddf, z)
    for ax, label in zip(axes[0], columns, strict=True):
        ax.set_title(label, fontsize=8)
    fig.colorbar(image, ax=axes[:, 4].tolist(), shrink=0.6, label="det J")
    fig.suptitle(title or f"moving {pair.names.get('moving', '')} -> fixed {pair.names.get('fixed', '')}", fontsize=9)
    save_figure(fig, path, dpi=80)
    return fig


def pair_figure(moving: np.ndarray, fixed: np.ndarray, warped: np.ndarray, ddf: np.ndarray, title: str = "") -> Figure:
    """One registered pair on the middle axial slice of the fixed grid, in one row of panels.

    Columns: moving image (on the fixed grid, before registration); fixed image; warped moving image;
    checkerboard of fixed and warped; deformation grid (in-plane components); Jacobian determinant (blue < 1 < red,
    folding outlined in black), with its colour bar.

    Args:
        moving: (X, Y, Z) moving image resampled onto the fixed grid.
        fixed: (X, Y, Z) fixed image.
        warped: (X, Y, Z) moving image warped by ``ddf``.
        ddf: (3, X, Y, Z) displacement in voxels (fixed voxel ``p`` samples the moving image at ``p + ddf[:, p]``).
        title: figure title.

    Returns:
        the :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if not moving.shape == fixed.shape == warped.shape == ddf.shape[1:] or ddf.shape[0] != 3:
        raise ValueError(
            f"expected (X, Y, Z) images and a (3, X, Y, Z) ddf on one grid, got moving {moving.shape}, fixed "
            f"{fixed.shape}, warped {warped.shape} and ddf {ddf.shape}"
        )
    z = fixed.shape[2] // 2
    columns = ["moving", "fixed", "warped moving", "checkerboard fixed / warped", "deformation grid", "det J"]
    fig = Figure(figsize=(2.2 * len(columns), 2.6), layout="constrained")
    axes = fig.subplots(1, len(columns))
    fixed_picture, moving_picture, warped_picture = _pictures(fixed, z, moving, warped)
    for ax, picture in zip(axes[:3], (moving_picture, fixed_picture, warped_picture), strict=True):
        show(ax, picture)
    show(axes[3], checkerboard(fixed_picture, warped_picture))
    det = _deformation_panels(axes[4], axes[5], ddf, z)
    for ax, label in zip(axes, columns, strict=True):
        ax.set_title(label, fontsize=8)
    fig.colorbar(det, ax=axes[5], shrink=0.7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


class SaveRegistrationPNGd(MapTransform):
    """Write :func:`pair_figure` of an item as a PNG named like ``SaveImaged`` names the fixed image's outputs.

    The PNG of a pair whose fixed image is ``<data_root_dir>/sub-003/t1w.nii.gz`` is
    ``<output_dir>/sub-003/t1w_<output_postfix>.png`` (MONAI's :class:`~monai.data.FolderLayout`, as ``SaveImaged``
    with ``separate_folder=False``), beside the warped image; it is written atomically.

    Args:
        keys: the moving image resampled onto the fixed grid, the fixed image and the warped moving image, in this
            order; each (C, X, Y, Z) (channel 0 is shown), the fixed one carrying ``filename_or_obj``.
        ddf_key: key of the (3, X, Y, Z) displacement in voxels.
        output_dir: root folder of the PNGs.
        output_postfix: appended to the fixed image's file name.
        data_root_dir: the part of the fixed image's path not repeated under ``output_dir``.
        dpi: resolution of the PNG.

    Example (config)::

        {"_target_": "mri_monai.registration.SaveRegistrationPNGd",
         "keys": ["moving_original", "fixed_image", "warped"], "ddf_key": "pred", "output_dir": "@output_dir",
         "output_postfix": "warped", "data_root_dir": "@dataset_dir"}
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_dir: str | os.PathLike,
        ddf_key: str = "pred",
        output_postfix: str = "warped",
        data_root_dir: str | os.PathLike = "",
        dpi: int = 80,
    ) -> None:
        super().__init__(keys)
        if len(self.keys) != 3:
            raise ValueError(f"need the keys of the moving, fixed and warped images, got {self.keys}")
        self.ddf_key = ddf_key
        self.layout = FolderLayout(
            output_dir, postfix=output_postfix, extension=".png", makedirs=True, data_root_dir=data_root_dir
        )
        self.data_root_dir = str(data_root_dir)
        self.dpi = dpi

    def _name(self, path: str) -> str:
        """``path`` relative to ``data_root_dir`` when it lies inside it."""
        relative = os.path.relpath(path, self.data_root_dir) if self.data_root_dir else path
        return path if relative.startswith("..") else relative

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Write the PNG of the item; return the item unchanged."""
        d = dict(data)
        moving, fixed, warped = (convert_to_numpy(d[key], dtype=np.float32)[0] for key in self.keys)
        ddf = convert_to_numpy(d[self.ddf_key], dtype=np.float32)
        moving_file, fixed_file = (str(d[key].meta[ImageMetaKey.FILENAME_OR_OBJ]) for key in self.keys[:2])
        title = f"moving {self._name(moving_file)} -> fixed {self._name(fixed_file)}"
        fig = pair_figure(moving, fixed, warped, ddf, title)
        save_figure(fig, self.layout.filename(subject=fixed_file), inputs=[moving_file, fixed_file], dpi=self.dpi)
        return d

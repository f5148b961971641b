"""The comparison figure: per method, the warped image, a checkerboard with the fixed image, label overlays, the
deformation grid and the Jacobian determinant map, on one axial slice of the fixed grid."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from mri_monai.data import atomic_output, jacobian_determinant

from .methods import MethodResult
from .pair import RegistrationPair

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["comparison_figure", "checkerboard"]


def checkerboard(a: np.ndarray, b: np.ndarray, tiles: int = 8) -> np.ndarray:
    """Alternate square tiles of two (H, W) images (each scaled to [0, 1] by its 99th percentile)."""
    h, w = a.shape
    size = max(1, max(h, w) // tiles)
    mask = ((np.arange(h)[:, None] // size) + (np.arange(w)[None, :] // size)) % 2 == 0
    a = np.clip(a / max(np.percentile(a, 99), 1e-6), 0, 1)
    b = np.clip(b / max(np.percentile(b, 99), 1e-6), 0, 1)
    return np.where(mask, a, b)


def _grid_lines(ax, ddf_slice: np.ndarray, step: int = 4) -> None:
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
    fixed = pair.fixed[:, :, z].T

    def show(ax, image, **kwargs):
        ax.imshow(image, origin="lower", **kwargs)
        ax.set_xticks([])
        ax.set_yticks([])

    columns = ["warped moving", "checkerboard", "labels: fixed (green) / warped (red)", "deformation grid", "det J"]
    fig = Figure(figsize=(2.4 * len(columns), 2.5 * len(results)))
    axes = np.atleast_2d(fig.subplots(len(results), len(columns)))
    for row, (name, result) in zip(axes, results.items(), strict=True):
        warped = result.warped[:, :, z].T
        show(row[0], warped, cmap="gray")
        row[0].set_ylabel(name, fontsize=9)
        show(row[1], checkerboard(fixed, warped), cmap="gray")
        show(row[2], fixed, cmap="gray")
        if pair.fixed_labels is not None and result.warped_labels is not None:
            levels = np.unique(pair.fixed_labels)[1:] - 0.5
            row[2].contour(pair.fixed_labels[:, :, z].T, levels=levels, colors="lime", linewidths=0.5)
            row[2].contour(result.warped_labels[:, :, z].T, levels=levels, colors="red", linewidths=0.5)
        _grid_lines(row[3], result.ddf[:, :, :, z])
        row[3].set_xticks([])
        row[3].set_yticks([])
        det = jacobian_determinant(result.ddf)[:, :, z].T
        image = row[4].imshow(det, origin="lower", cmap="RdBu_r", vmin=0.0, vmax=2.0)
        if (det <= 0).any():
            row[4].contour(det <= 0, levels=[0.5], colors="k", linewidths=0.6)
        row[4].set_xticks([])
        row[4].set_yticks([])
    for ax, label in zip(axes[0], columns, strict=True):
        ax.set_title(label, fontsize=8)
    fig.colorbar(image, ax=axes[:, 4].tolist(), shrink=0.6, label="det J")
    fig.suptitle(title or f"moving {pair.names.get('moving', '')} -> fixed {pair.names.get('fixed', '')}", fontsize=9)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    return fig

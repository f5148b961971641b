"""One way to draw MRI slices, used by every figure of the package: orientation, grey window and PNG writing.

- Orientation (:func:`display_slice`): voxel axes are taken as RAS (index increasing towards the subject's Right,
  Anterior, Superior, as after MONAI's ``Orientation("RAS")``). A slice is drawn with the lower of its two voxel
  axes to the right and the higher one up: axial (across axis 2) with the subject's right on the picture's right
  and anterior at the top (neurological convention); coronal (across axis 1) with right on the right and superior
  at the top; sagittal (across axis 0) with anterior on the right and superior at the top. In array terms the
  picture is ``np.rot90`` of the slice, as :func:`~mri_monai.data.acquisition.volume_to_slices` lays out the
  (S, H, W) slices of the reconstruction task.
- Grey window (:func:`grey_window`, :func:`to_grey`): the 0.5th to 99.5th percentiles of the non-zero pixels of one
  reference slice map to black and white, shared by every panel showing the same quantity in a figure (the input's
  window for input, output and reference), so that the panels compare; pixels exactly 0 (masked or padded
  background) stay black.
- Writing (:func:`save_figure`, :func:`save_png`): PNG files written atomically, never over an input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from monai.utils import convert_to_numpy

from mri_monai.data.atomic import atomic_output

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = [
    "PERCENTILES",
    "PANEL_SIZE",
    "display_slice",
    "grey_window",
    "to_grey",
    "tile",
    "show",
    "panel_figure",
    "save_figure",
    "save_png",
]

#: percentiles of a reference slice's non-zero pixels drawn black and white
PERCENTILES = (0.5, 99.5)
#: (width, height) in inches of one panel of :func:`panel_figure`
PANEL_SIZE = (3.0, 3.3)


def display_slice(image: np.ndarray | torch.Tensor, axis: int = 2, index: int | None = None) -> np.ndarray:
    """The slice of a volume across ``axis``, oriented for display (see the module docstring).

    Args:
        image: (X, Y, Z) volume, (C, X, Y, Z) (channel 0 is drawn), or an (X, Y) slice (``axis`` and ``index``
            are then unused).
        axis: the spatial axis (0, 1 or 2) the slice cuts across: 2 axial, 1 coronal, 0 sagittal.
        index: the slice's index along ``axis``; default the middle one (``size // 2``).

    Returns:
        (rows, columns) float32 picture: ``np.rot90`` of the slice, e.g. (Y, X) for an axial slice, with row 0 the
        highest Y (anterior) and column 0 the lowest X (the subject's left).
    """
    array = convert_to_numpy(image, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim == 3:
        array = np.take(array, array.shape[axis] // 2 if index is None else index, axis=axis)
    if array.ndim != 2:
        raise ValueError(f"expected an (X, Y), (X, Y, Z) or (C, X, Y, Z) image, got shape {image.shape}")
    return np.ascontiguousarray(np.rot90(array))


def grey_window(reference: np.ndarray, percentiles: tuple[float, float] = PERCENTILES) -> tuple[float, float]:
    """The intensities drawn black and white: the ``percentiles`` of the non-zero pixels of ``reference``.

    Args:
        reference: the image (e.g. a :func:`display_slice`) the window is taken from.
        percentiles: (low, high) percentiles.

    Returns:
        (low, high) with ``high > low``: (0, 1) when ``reference`` is all zero, ``low`` -/+ 0.5 when it is flat.
    """
    inside = np.asarray(reference, dtype=np.float64)
    inside = inside[inside != 0]
    if inside.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(inside, percentiles))
    return (low, high) if high > low else (low - 0.5, low + 0.5)


def to_grey(image: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """``image`` scaled so that ``window`` spans [0, 1], clipped; pixels exactly 0 (background) stay 0.

    Args:
        image: (H, W) picture.
        window: (low, high) intensities drawn black and white (:func:`grey_window`).

    Returns:
        (H, W) float32 grey levels in [0, 1].
    """
    image = np.asarray(image, dtype=np.float32)
    low, high = window
    grey = np.clip((image - low) / (high - low), 0.0, 1.0)
    return np.where(image != 0, grey, 0.0).astype(np.float32)


def tile(rows: Sequence[Sequence[np.ndarray]], gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """Tile equally shaped (H, W) pictures into one, ``rows[i][j]`` at row i, column j, ``gap`` pixels apart.

    Returns:
        (rows * (H + gap) - gap, columns * (W + gap) - gap) float32 array, ``fill`` between the pictures.
    """
    h, w = np.asarray(rows[0][0]).shape
    n_cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, n_cols * (w + gap) - gap), fill, dtype=np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = image
    return out


def show(ax: Axes, picture: np.ndarray, **kwargs) -> AxesImage:
    """Draw a picture on ``ax`` pixel for pixel (row 0 at the top), without ticks.

    Args:
        ax: the matplotlib axes.
        picture: (H, W) grey levels in [0, 1] (:func:`to_grey`) or (H, W, 3) RGB in [0, 1].
        kwargs: ``imshow`` arguments replacing the defaults (grey colour map from 0 to 1, nearest).

    Returns:
        the :class:`~matplotlib.image.AxesImage`.
    """
    shown = ax.imshow(picture, **{"cmap": "gray", "vmin": 0.0, "vmax": 1.0, "interpolation": "nearest", **kwargs})
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def panel_figure(panels: Sequence[tuple[str, np.ndarray]], suptitle: str = "") -> Figure:
    """One row of titled panels, each drawn with :func:`show` and no frame.

    Args:
        panels: (title, picture) pairs, left to right; pictures as :func:`show` takes them.
        suptitle: title of the whole figure, none when empty.

    Returns:
        the :class:`~matplotlib.figure.Figure`, :data:`PANEL_SIZE` per panel.
    """
    from matplotlib.figure import Figure

    width, height = PANEL_SIZE
    fig = Figure(figsize=(width * len(panels), height))
    for i, (title, picture) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        show(ax, picture)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(
    figure: Figure, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), dpi: int = 100
) -> Path:
    """Write a figure as a PNG, atomically (:func:`~mri_monai.data.atomic.atomic_output`).

    Args:
        figure: the matplotlib figure.
        path: the ``.png`` file; missing folders are created.
        inputs: files the figure shows; writing onto any of them is refused.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with atomic_output(path, inputs=inputs) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def save_png(
    picture: np.ndarray,
    path: str | os.PathLike,
    window: tuple[float, float] = (0.0, 1.0),
    inputs: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write an (H, W) picture as an H x W pixel, 8-bit greyscale PNG (row 0 at the top), atomically.

    Args:
        picture: (H, W) array, e.g. a :func:`display_slice` or a :func:`tile` of them.
        path: the ``.png`` file; missing folders are created.
        window: intensities drawn black and white (:func:`to_grey`).
        inputs: files the picture shows; writing onto any of them is refused.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from PIL import Image  # matplotlib's own PNG encoder

    picture = np.asarray(picture)
    if picture.ndim != 2:
        raise ValueError(f"expected an (H, W) picture, got shape {picture.shape}")
    grey = np.round(to_grey(picture, window) * 255).astype(np.uint8)
    with atomic_output(path, inputs=inputs) as tmp:
        Image.fromarray(grey).save(tmp, format="PNG")
    return Path(path)

"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest


def _png_panels(path: str | os.PathLike) -> list[np.ndarray]:
    """The image panels of a matplotlib figure saved as PNG, left to right, as (H, W) grey levels in [0, 1].

    A panel is a connected region of non-white pixels with its holes filled (saturated image pixels inside a dark
    border, the inside of a framed plot) whose bounding box has at least half the area of the largest one, so titles,
    tick labels and colour bars are left out. The panels are cropped to their common size (their boxes can differ
    by a pixel), so that they can be compared pixel by pixel.
    """
    from matplotlib.image import imread
    from scipy import ndimage

    rgb = imread(path)[..., :3]
    labels, _ = ndimage.label(ndimage.binary_fill_holes((rgb < 1.0).any(axis=-1)))
    boxes = ndimage.find_objects(labels)
    areas = [(rows.stop - rows.start) * (cols.stop - cols.start) for rows, cols in boxes]
    kept = [box for box, area in zip(boxes, areas, strict=True) if area >= 0.5 * max(areas)]
    h = min(rows.stop - rows.start for rows, _ in kept)
    w = min(cols.stop - cols.start for _, cols in kept)
    kept.sort(key=lambda box: box[1].start)
    return [rgb[rows.start : rows.start + h, cols.start : cols.start + w].mean(axis=-1) for rows, cols in kept]


@pytest.fixture
def png_panels() -> Callable[[str | os.PathLike], list[np.ndarray]]:
    """:func:`_png_panels`: the image panels of a PNG figure, left to right."""
    return _png_panels


@pytest.fixture
def one_thread_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bundle runs the test starts (``mri_monai.bundle_run.run_bundle``) use one CPU thread and no GPU."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")

"""Dependency-free 8-bit greyscale PNG writing and image grids."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from mri_monai.data.atomic import atomic_output

__all__ = ["save_png", "tile"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def save_png(image: np.ndarray, path: str | os.PathLike, value_range: tuple[float, float] = (0.0, 1.0)) -> None:
    """Write a 2D array as an 8-bit greyscale PNG (row 0 at the top), atomically.

    Args:
        image: (H, W) array.
        path: output ``.png`` file.
        value_range: intensities mapped to black and white; values outside are clipped.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {image.shape}")
    low, high = value_range
    pixels = np.round(np.clip((image - low) / max(high - low, 1e-12), 0, 1) * 255).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
    )
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def tile(rows: Sequence[Sequence[np.ndarray]], gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """Tile equally shaped 2D images into one array, ``rows[i][j]`` at row i, column j, ``gap`` pixels apart."""
    h, w = np.asarray(rows[0][0]).shape
    n_cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, n_cols * (w + gap) - gap), fill, dtype=np.float64)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = image
    return out

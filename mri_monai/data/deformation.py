"""Random smooth, invertible subject deformations and the Jacobian determinant of displacement fields.

A subject is the template pulled back through ``phi(p) = M (p + u(p))``: ``u`` is a diffeomorphic
displacement obtained by integrating a smooth stationary velocity field (scaling and squaring,
MONAI's :class:`~monai.networks.blocks.DVF2DDF`), and ``M`` a small affine about the image centre.
Fields are dense displacements in voxels, channel-first (3, X, Y, Z), in MONAI's ``Warp`` convention:
output voxel ``p`` samples the input at ``p + ddf[:, p]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.networks.blocks import DVF2DDF, Warp
from scipy import ndimage
from scipy.spatial.transform import Rotation

__all__ = ["random_affine", "random_velocity", "random_deformation", "warp", "jacobian_determinant"]


def random_affine(
    rng: np.random.Generator,
    max_rotation_deg: float = 5.0,
    max_scale: float = 0.05,
    max_translation_vox: float = 2.0,
) -> np.ndarray:
    """A random 4 x 4 affine in voxel coordinates (rotation, isotropic-ish scaling, translation).

    The rotation is about the image centre; apply it with :func:`random_deformation`.
    """
    rot = Rotation.from_euler("xyz", rng.uniform(-max_rotation_deg, max_rotation_deg, 3), degrees=True).as_matrix()
    scale = np.diag(1.0 + rng.uniform(-max_scale, max_scale, 3))
    mat = np.eye(4)
    mat[:3, :3] = rot @ scale
    mat[:3, 3] = rng.uniform(-max_translation_vox, max_translation_vox, 3)
    return mat


def random_velocity(
    shape: Sequence[int], rng: np.random.Generator, max_displacement: float = 3.0, smoothness: float = 8.0
) -> np.ndarray:
    """A smooth random stationary velocity field, (3, X, Y, Z) float32 in voxels.

    Args:
        shape: spatial shape (X, Y, Z).
        rng: numpy random generator.
        max_displacement: largest velocity magnitude in voxels (the integrated displacement is similar).
        smoothness: Gaussian smoothing width in voxels (larger = smoother, more global deformation).
    """
    field = np.stack([ndimage.gaussian_filter(rng.standard_normal(tuple(shape)), smoothness) for _ in range(3)])
    peak = np.sqrt((field**2).sum(axis=0)).max()
    return (field * (max_displacement / max(peak, 1e-12))).astype(np.float32)


def random_deformation(
    shape: Sequence[int],
    rng: np.random.Generator,
    max_displacement: float = 3.0,
    smoothness: float = 8.0,
    affine: np.ndarray | None = None,
) -> np.ndarray:
    """The total displacement of ``p -> M (p + u(p))``, (3, X, Y, Z) float32 in voxels.

    Args:
        shape: spatial shape (X, Y, Z).
        rng: numpy random generator (the only source of randomness: same seed, same field).
        max_displacement: velocity magnitude of the non-linear part, voxels.
        smoothness: Gaussian width of the velocity field, voxels.
        affine: 4 x 4 voxel affine about the image centre (e.g. from :func:`random_affine`); identity if None.
    """
    # the field is smooth: make and integrate it on a grid ``factor`` times coarser, then upsample
    factor = max(1, int(smoothness // 4))
    coarse = [max(2, -(-int(n) // factor)) for n in shape]
    ratio = np.array([(n - 1) / (c - 1) for n, c in zip(shape, coarse, strict=True)])
    velocity = random_velocity(coarse, rng, max_displacement / ratio.mean(), smoothness / factor)
    u_coarse = DVF2DDF(num_steps=7, mode="bilinear", padding_mode="border")(torch.from_numpy(velocity)[None])
    u_full = torch.nn.functional.interpolate(
        u_coarse, size=tuple(int(n) for n in shape), mode="trilinear", align_corners=True
    )
    u = u_full[0].numpy() * ratio[:, None, None, None]
    grid = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"))
    q = grid + u
    if affine is not None:
        centre = (np.asarray(shape, dtype=np.float64) - 1.0) / 2.0
        qc = q - centre[:, None, None, None]
        q = np.einsum("ij,j...->i...", affine[:3, :3], qc) + (centre + affine[:3, 3])[:, None, None, None]
    return (q - grid).astype(np.float32)


def warp(image: np.ndarray, ddf: np.ndarray, mode: str = "bilinear") -> np.ndarray:
    """Pull ``image`` back through ``ddf`` with MONAI's :class:`~monai.networks.blocks.Warp`.

    Args:
        image: (C, X, Y, Z) or (X, Y, Z) array.
        ddf: (3, X, Y, Z) displacement in voxels.
        mode: ``"bilinear"`` for intensities and fractions, ``"nearest"`` for label maps.

    Returns:
        the warped array, same shape and dtype as ``image``; outside the field of view is 0.
    """
    squeeze = image.ndim == 3
    img = torch.from_numpy(np.ascontiguousarray(image[None] if squeeze else image, dtype=np.float32))[None]
    out = Warp(mode=mode, padding_mode="zeros")(img, torch.from_numpy(np.ascontiguousarray(ddf))[None])[0].numpy()
    return (out[0] if squeeze else out).astype(image.dtype)


def jacobian_determinant(ddf: np.ndarray | torch.Tensor) -> np.ndarray:
    """Determinant of the Jacobian of ``p -> p + ddf(p)`` by central differences.

    Args:
        ddf: (3, X, Y, Z) displacement in voxels (array or tensor).

    Returns:
        (X, Y, Z) float32 determinant; values <= 0 mark folding.
    """
    d = ddf.detach().cpu().numpy() if isinstance(ddf, torch.Tensor) else np.asarray(ddf)
    if d.ndim != 4 or d.shape[0] != 3:
        raise ValueError(f"expected a (3, X, Y, Z) displacement field, got shape {d.shape}")
    jac = np.stack([np.stack(np.gradient(d[i], axis=(0, 1, 2))) for i in range(3)])  # (3, 3, X, Y, Z)
    jac = jac + np.eye(3)[:, :, None, None, None]
    return np.linalg.det(np.moveaxis(jac, (0, 1), (-2, -1))).astype(np.float32)

"""Test-time instance optimisation: a few gradient steps on one pair, starting from the network's field.

The network's coarse displacement (on its grid ``downsample`` times coarser than the input) is optimised directly
with Adam on ``similarity(warped moving, fixed) + weight * regularization(field)``; the network's weights are not
touched, and no backbone pass or integration is repeated.

The similarity is computed at full resolution but, as Elastix samples its metric, on a subset of voxels per step:
every ``stride``-th voxel along each axis of the box around the head, from a random offset that changes every step
(all voxels contribute over a few steps). Field and moving image are sampled at those points only
(``torch.nn.functional.grid_sample``, as MONAI's ``Warp`` does on a whole grid), so a step costs about
``1 / stride**3`` of a full-grid step while keeping the full-resolution detail that a pooled image would lose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import DiffusionLoss, LocalNormalizedCrossCorrelationLoss
from torch import nn

from .network import LowResVoxelMorph

__all__ = ["InstanceOptimization"]


def _sample(image: torch.Tensor, points: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Trilinear samples of ``image`` (1, C, X, Y, Z) at voxel coordinates ``points`` (1, 3, ...) -> (1, C, ...)."""
    sizes = torch.tensor(image.shape[2:], dtype=points.dtype, device=points.device).view(1, 3, *[1] * (points.ndim - 2))
    grid = (2 * points / (sizes - 1) - 1).flip(1)  # grid_sample indexes the last axis with the first coordinate
    grid = grid.movedim(1, -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


class InstanceOptimization:
    """Refine a :class:`~mri_monai.registration.network.LowResVoxelMorph` prediction on one pair.

    Args:
        network: the trained network (used once, without gradients).
        steps: Adam steps (0 returns the network's field).
        learning_rate: Adam step size, in coarse voxels.
        similarity: image loss ``similarity(warped, fixed)`` on the sampled (1, 1, X'', Y'', Z'') grids; MONAI's
            ``LocalNormalizedCrossCorrelationLoss(kernel_size=3)`` by default.
        regularization: loss on the coarse (1, 3, X', Y', Z') field; ``DiffusionLoss`` by default.
        regularization_weight: weight of the regularisation.
        stride: the similarity uses every ``stride``-th voxel along each axis (1: all voxels).
        margin: voxels kept around the foreground box where the similarity is computed.
        foreground: intensity threshold of the foreground, as a fraction of each image's maximum.
        seed: seed of the random sampling offsets (the result is deterministic).

    Example::

        optimise = InstanceOptimization(net, steps=20)
        ddf = optimise(moving, fixed)  # (1, 3, X, Y, Z) in voxels
    """

    def __init__(
        self,
        network: LowResVoxelMorph,
        steps: int = 20,
        learning_rate: float = 0.2,
        similarity: nn.Module | None = None,
        regularization: nn.Module | None = None,
        regularization_weight: float = 1.0,
        stride: int = 2,
        margin: int = 8,
        foreground: float = 0.02,
        seed: int = 0,
    ) -> None:
        if steps < 0 or stride < 1:
            raise ValueError(f"steps must be >= 0 and stride >= 1, got {steps} and {stride}")
        self.network = network
        self.steps = int(steps)
        self.learning_rate = float(learning_rate)
        self.similarity = similarity if similarity is not None else LocalNormalizedCrossCorrelationLoss(kernel_size=3)
        self.regularization = regularization if regularization is not None else DiffusionLoss()
        self.regularization_weight = float(regularization_weight)
        self.stride = int(stride)
        self.margin = int(margin)
        self.foreground = float(foreground)
        self.seed = int(seed)

    def _foreground_box(self, moving: torch.Tensor, fixed: torch.Tensor) -> list[tuple[int, int]]:
        """(start, stop) per axis of both images' foreground (> ``foreground`` of the maximum) plus ``margin``.

        The background is zero in both images, and voxels move by less than the margin.
        """
        mask = ((moving > self.foreground * moving.max()) | (fixed > self.foreground * fixed.max()))[0, 0]
        if not bool(mask.any()):
            return [(0, n) for n in mask.shape]
        box = []
        for axis, n in enumerate(mask.shape):
            hits = torch.nonzero(mask.any(dim=[a for a in range(3) if a != axis]))[:, 0]
            box.append((max(0, int(hits[0]) - self.margin), min(n, int(hits[-1]) + 1 + self.margin)))
        return box

    def __call__(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """(1, 1, X, Y, Z) normalised moving and fixed images -> (1, 3, X, Y, Z) displacement in voxels."""
        with torch.no_grad():
            coarse = self.network.coarse_field(torch.cat([moving, fixed], dim=1))
        if self.steps == 0:
            return self.network.to_input_grid(coarse, moving.shape[2:])
        box = self._foreground_box(moving, fixed)
        ds = self.network.downsample
        field = coarse.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([field], lr=self.learning_rate)
        generator = torch.Generator().manual_seed(self.seed)
        with torch.enable_grad():
            for _ in range(self.steps):
                offset = torch.randint(0, self.stride, (3,), generator=generator).tolist()
                grid = [slice(a + o, b, self.stride) for (a, b), o in zip(box, offset, strict=True)]
                axes = [torch.arange(g.start, g.stop, g.step, dtype=moving.dtype) for g in grid]
                points = torch.stack(torch.meshgrid(*axes, indexing="ij"))[None].to(moving.device)
                fixed_s = fixed[(slice(None), slice(None), *grid)]
                optimizer.zero_grad()
                # coarse cell c is centred on full voxel ds * c + (ds - 1) / 2 (see LowResVoxelMorph.to_input_grid)
                displacement = _sample(field, (points - (ds - 1) / 2) / ds, "border") * ds
                warped = _sample(moving, points + displacement, "zeros")
                loss = self.similarity(warped, fixed_s) + self.regularization_weight * self.regularization(field)
                loss.backward()
                optimizer.step()
        return self.network.to_input_grid(field.detach(), moving.shape[2:])

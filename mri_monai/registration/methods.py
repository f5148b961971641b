"""The registration methods a comparison runs, behind one call: ``method(pair) -> MethodResult``.

- ``none``: the moving image resampled onto the fixed grid, nothing moved (the before-registration row);
- ``elastix_affine`` / ``elastix_bspline``: :class:`~mri_monai.registration.elastix.ElastixRegistration` with the
  ``affine`` preset, or ``affine`` then ``bspline``;
- ``network`` / ``network_io``: the learned :class:`~mri_monai.registration.network.LowResVoxelMorph`, alone or
  refined by :class:`~mri_monai.registration.instance_optimization.InstanceOptimization`.

Each call times itself (wall clock, from arrays in memory to the warped image, the field and the warped labels).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from monai.transforms import ScaleIntensityRangePercentiles

from mri_monai.data import warp
from mri_monai.errors import InputError

from .elastix import ElastixRegistration
from .instance_optimization import InstanceOptimization
from .network import LowResVoxelMorph
from .pair import RegistrationPair, grid_ddf

__all__ = [
    "METHODS",
    "MethodResult",
    "NoRegistration",
    "ElastixMethod",
    "NetworkMethod",
    "load_bundle_network",
    "make_methods",
]

#: every method name, in table order.
METHODS = ("none", "elastix_affine", "elastix_bspline", "network", "network_io")


@dataclass
class MethodResult:
    """One method's result on one pair, on the fixed grid.

    Attributes:
        warped: float32 (X, Y, Z) moving image warped to the fixed image.
        ddf: float32 (3, X, Y, Z) displacement in moving voxels (fixed voxel ``p`` -> moving voxel ``p + ddf[:, p]``).
        warped_labels: (X, Y, Z) moving labels warped with nearest-neighbour interpolation, or None.
        seconds: wall time of the call.
    """

    warped: np.ndarray
    ddf: np.ndarray
    warped_labels: np.ndarray | None
    seconds: float


def _warp_pair(pair: RegistrationPair, ddf: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    warped = warp(pair.moving.astype(np.float32), ddf)
    labels = None if pair.moving_labels is None else warp(pair.moving_labels, ddf, mode="nearest")
    return warped, labels


class NoRegistration:
    """The ``none`` row: the moving image on the fixed grid through the identity (world) transform."""

    name = "none"

    def __call__(self, pair: RegistrationPair) -> MethodResult:
        """Resample ``pair.moving`` (and its labels) onto the fixed grid."""
        start = time.perf_counter()
        ddf = grid_ddf(pair.fixed_affine, pair.moving_affine, pair.fixed.shape)
        warped, labels = _warp_pair(pair, ddf)
        return MethodResult(warped, ddf, labels, time.perf_counter() - start)

    def warm_up(self) -> None:
        """Nothing to load."""


class ElastixMethod:
    """Elastix with a chain of presets, e.g. ``ElastixMethod("elastix_bspline", ("affine", "bspline"), threads=1)``.

    Args:
        name: the row name.
        stages: presets or parameter files, in order (see :class:`~mri_monai.registration.elastix.ElastixRegistration`).
        threads: ITK threads (``None``: ITK's default, all cores).
    """

    def __init__(self, name: str, stages: tuple[str, ...], threads: int | None = 1) -> None:
        self.name = name
        self.registration = ElastixRegistration(stages, threads=threads, units="voxel")

    def __call__(self, pair: RegistrationPair) -> MethodResult:
        """Register ``pair``; labels are warped by transformix (nearest neighbour)."""
        start = time.perf_counter()
        labels = [pair.moving_labels] if pair.moving_labels is not None else []
        result = self.registration(pair.fixed, pair.fixed_affine, pair.moving, pair.moving_affine, labels=labels)
        warped_labels = result.warped_labels[0] if labels else None
        return MethodResult(result.warped, result.ddf, warped_labels, time.perf_counter() - start)

    def warm_up(self) -> None:
        """Load ITK's lazily imported Elastix modules (seconds on first use) by registering a tiny blob pair."""
        grid = np.stack(np.meshgrid(*[np.arange(24.0)] * 3, indexing="ij"))
        fixed = np.exp(-(((grid - 11.5) ** 2).sum(0)) / 40.0).astype(np.float32)
        moving = np.exp(-(((grid - 12.5) ** 2).sum(0)) / 40.0).astype(np.float32)
        ElastixRegistration(("affine",), threads=self.registration.threads)(
            fixed, np.eye(4), moving, np.eye(4), labels=[(moving > 0.5).astype(np.uint8)]
        )


class NetworkMethod:
    """The learned registration: :class:`LowResVoxelMorph`, optionally with instance optimisation.

    Images are scaled as the bundle's preprocessing does (0 to the ``percentile``-th percentile -> [0, 1], clipped).
    A moving image on another grid is first resampled onto the fixed grid (world coordinates), and the returned
    field is composed with that resampling, so it maps fixed voxels to voxels of the original moving image.

    Args:
        name: the row name.
        network: the trained network (put in eval mode).
        instance_optimization: refines the network's field when given (its ``network`` must be ``network``).
        device: where the network runs.
        threads: torch threads during the call (``None`` leaves torch's setting).
        percentile: upper percentile of the intensity scaling.
    """

    def __init__(
        self,
        name: str,
        network: LowResVoxelMorph,
        instance_optimization: InstanceOptimization | None = None,
        device: str | torch.device = "cpu",
        threads: int | None = 1,
        percentile: float = 99.5,
    ) -> None:
        self.name = name
        self.network = network.eval()
        self.instance_optimization = instance_optimization
        self.device = torch.device(device)
        self.threads = threads
        self.scale = ScaleIntensityRangePercentiles(0, percentile, 0.0, 1.0, clip=True)

    def _tensor(self, image: np.ndarray) -> torch.Tensor:
        scaled = self.scale(torch.as_tensor(image, dtype=torch.float32)[None])
        return torch.as_tensor(scaled, dtype=torch.float32)[None].to(self.device)

    def _field(self, moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        m, f = self._tensor(moving), self._tensor(fixed)
        if self.instance_optimization is not None:
            return self.instance_optimization(m, f)[0].cpu().numpy()
        with torch.no_grad():
            return self.network(torch.cat([m, f], dim=1))[0].cpu().numpy()

    def __call__(self, pair: RegistrationPair) -> MethodResult:
        """Register ``pair`` with the network (and instance optimisation)."""
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            start = time.perf_counter()
            to_fixed = grid_ddf(pair.fixed_affine, pair.moving_affine, pair.fixed.shape)
            moving = pair.moving if pair.same_grid else warp(pair.moving.astype(np.float32), to_fixed)
            ddf = self._field(moving, pair.fixed)
            if not pair.same_grid:  # moving voxel of fixed voxel p: R (p + u(p)) = p + to_fixed(p) + A u(p)
                linear = (np.linalg.inv(pair.moving_affine) @ pair.fixed_affine)[:3, :3]
                ddf = to_fixed + np.einsum("ij,j...->i...", linear, ddf).astype(np.float32)
            warped, labels = _warp_pair(pair, ddf)
            return MethodResult(warped, ddf.astype(np.float32), labels, time.perf_counter() - start)
        finally:
            torch.set_num_threads(previous)

    def warm_up(self) -> None:
        """One small forward pass (and one optimisation step) so that first-call costs are not timed."""
        pair = torch.rand(1, 2, 32, 32, 32, device=self.device)
        if self.instance_optimization is not None:
            steps, self.instance_optimization.steps = self.instance_optimization.steps, 1
            try:
                self.instance_optimization(pair[:, :1], pair[:, 1:])
            finally:
                self.instance_optimization.steps = steps
        with torch.no_grad():
            self.network(pair)


def load_bundle_network(bundle: str | os.PathLike, device: str | torch.device = "cpu") -> LowResVoxelMorph:
    """The network of a registration bundle: ``network_def`` of ``configs/inference.json`` + ``models/model.pt``.

    Raises:
        InputError: the bundle folder lacks its config or weights.
    """
    from monai.bundle import ConfigParser

    bundle = Path(bundle)
    config, weights = bundle / "configs" / "inference.json", bundle / "models" / "model.pt"
    for path in (config, weights):
        if not path.is_file():
            raise InputError(path, "not found: give --bundle the folder of brain_mri_voxelmorph_registration")
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["bundle_root"] = str(bundle)
    network = parser.get_parsed_content("network_def", instantiate=True)
    network.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    return network.to(device).eval()


def make_methods(
    names: tuple[str, ...] = METHODS,
    network: LowResVoxelMorph | None = None,
    threads: int | None = 1,
    device: str | torch.device = "cpu",
    **io_options: float,
) -> list:
    """The methods named in ``names`` (see :data:`METHODS`), ready to call.

    Args:
        names: method names.
        network: the trained network (needed for ``network`` and ``network_io``).
        threads: ITK and torch threads of every method.
        device: where the network runs.
        io_options: keyword arguments of :class:`InstanceOptimization` for ``network_io`` (``steps``,
            ``learning_rate``, ``regularization_weight``, ``similarity_downsample``...); its defaults otherwise.
    """
    unknown = set(names) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {METHODS}")
    if network is None and {"network", "network_io"} & set(names):
        raise ValueError("the network methods need a trained network")
    methods = []
    for name in names:
        if name == "none":
            methods.append(NoRegistration())
        elif name.startswith("elastix"):
            stages = ("affine",) if name == "elastix_affine" else ("affine", "bspline")
            methods.append(ElastixMethod(name, stages, threads=threads))
        else:
            optimisation = InstanceOptimization(network, **io_options) if name == "network_io" else None
            methods.append(NetworkMethod(name, network, optimisation, device=device, threads=threads))
    return methods

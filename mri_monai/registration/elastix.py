"""Elastix registration through ITKElastix (``itk-elastix``), with presets kept as parameter files.

The presets in ``parameter_maps/`` (``rigid``, ``affine``, ``bspline``) are elastix text parameter files; a run
chains any of them (e.g. ``("affine", "bspline")``) or user parameter files. Arrays are (X, Y, Z) with a RAS
``affine`` as nibabel and MONAI give them; they are converted to ITK's LPS geometry here and back.

Each run works in its own temporary folder (transformix writes files into its output directory), sets the
number of threads with ``itk.MultiThreaderBase.SetGlobalDefaultNumberOfThreads`` (``number_of_threads=`` of the
registration method crashes with the multi-metric B-spline map: ITKElastix issues #160 and #295), warps label maps
with transformix and ``FinalNearestNeighborInterpolator``, and exports the transform as a dense displacement field.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["PRESETS", "ElastixRegistration", "ElastixResult", "parameter_object", "preset_path"]

PRESETS = ("rigid", "affine", "bspline")
_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (its own inverse)


def _itk():
    try:
        import itk
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("Elastix registration needs itk-elastix: pip install 'mri-monai[registration]'") from e
    return itk


def preset_path(name: str) -> Path:
    """The parameter file of a preset (``"rigid"``, ``"affine"`` or ``"bspline"``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown elastix preset {name!r}; choose from {PRESETS} or give a parameter file")
    return Path(str(resources.files("mri_monai.registration") / "parameter_maps" / f"{name}.txt"))


def parameter_object(stages: Sequence[str | os.PathLike]):
    """An ``itk.ParameterObject`` with one parameter map per stage, run in order.

    Args:
        stages: preset names (:data:`PRESETS`) or paths of elastix parameter files.
    """
    itk = _itk()
    params = itk.ParameterObject.New()
    for stage in stages:
        path = preset_path(stage) if isinstance(stage, str) and stage in PRESETS else Path(stage)
        if not path.is_file():
            raise ValueError(f"{path}: not a preset name {PRESETS} nor an existing parameter file")
        params.AddParameterFile(str(path))
    return params


def _to_itk(array: np.ndarray, affine: np.ndarray):
    """(X, Y, Z) array with a RAS affine -> float32 ``itk.Image`` with LPS origin, spacing and direction."""
    itk = _itk()
    lps = _LPS @ np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image = itk.image_from_array(np.ascontiguousarray(np.asarray(array, dtype=np.float32).T))
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(lps[:3, :3] / spacing)))
    return image


def _from_itk(image) -> np.ndarray:
    """``itk.Image`` -> (X, Y, Z) array (or (X, Y, Z, C) for vector images)."""
    array = _itk().array_from_image(image)
    return np.ascontiguousarray(np.moveaxis(array, (0, 1, 2), (2, 1, 0)))


@dataclass
class ElastixResult:
    """What one Elastix run gives, on the fixed image's grid.

    Attributes:
        warped: (X, Y, Z) float32 moving image resampled onto the fixed grid.
        ddf: (3, X, Y, Z) float32 displacement: in voxels of the moving image (MONAI ``Warp`` convention, fixed voxel
            ``p`` maps to moving voxel ``p + ddf[:, p]``), or in RAS mm (fixed point ``x`` maps to ``x + ddf[:, p]``).
        units: ``"voxel"`` or ``"mm"``.
        warped_labels: (X, Y, Z) label maps warped with nearest-neighbour interpolation, in the order given.
        transform_parameters: the final transform as a list of parameter maps (``dict`` of ``tuple[str]``).
    """

    warped: np.ndarray
    ddf: np.ndarray
    units: str
    warped_labels: list[np.ndarray]
    transform_parameters: list[dict[str, tuple[str, ...]]]


class ElastixRegistration:
    """Register a moving image to a fixed one with elastix (``itk.elastix_registration_method``).

    Args:
        stages: presets (:data:`PRESETS`) or elastix parameter files, run in order; e.g. ``("affine",)`` or
            ``("affine", "bspline")``.
        threads: ITK threads (global default, set before each run); ``None`` keeps ITK's default (all cores).
        units: displacement field units: ``"voxel"`` (MONAI ``Warp`` convention) or ``"mm"`` (RAS world).

    Example::

        result = ElastixRegistration(("affine", "bspline"), threads=1)(
            fixed, fixed_affine, moving, moving_affine, labels=[moving_labels]
        )
        result.warped.shape  # fixed.shape; result.ddf: (3, *fixed.shape)
    """

    def __init__(
        self, stages: Sequence[str | os.PathLike] = ("affine", "bspline"), threads: int | None = None, units="voxel"
    ) -> None:
        if units not in ("voxel", "mm"):
            raise ValueError(f"units must be 'voxel' or 'mm', got {units!r}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.stages = tuple(stages)
        parameter_object(self.stages)  # fail early on unknown presets or missing files
        self.threads = threads
        self.units = units

    def __call__(
        self,
        fixed: np.ndarray,
        fixed_affine: np.ndarray,
        moving: np.ndarray,
        moving_affine: np.ndarray,
        labels: Sequence[np.ndarray] = (),
    ) -> ElastixResult:
        """Register ``moving`` (X', Y', Z') to ``fixed`` (X, Y, Z); warp ``labels`` (on the moving grid) too.

        Args:
            fixed: (X, Y, Z) fixed image.
            fixed_affine: (4, 4) voxel-to-RAS of ``fixed``.
            moving: (X', Y', Z') moving image.
            moving_affine: (4, 4) voxel-to-RAS of ``moving``.
            labels: integer label maps of shape (X', Y', Z') on the moving grid.
        """
        itk = _itk()
        if self.threads is not None:
            itk.MultiThreaderBase.SetGlobalDefaultNumberOfThreads(self.threads)
        fixed_itk, moving_itk = _to_itk(fixed, fixed_affine), _to_itk(moving, moving_affine)
        with tempfile.TemporaryDirectory(prefix="mri-monai-elastix-") as work:
            out = work + os.sep
            warped, transform = itk.elastix_registration_method(
                fixed_itk,
                moving_itk,
                parameter_object=parameter_object(self.stages),
                output_directory=out,
                log_to_console=False,
            )
            field = itk.transformix_deformation_field(
                moving_itk, transform_parameter_object=transform, output_directory=out, log_to_console=False
            )
            warped_labels = [self._warp_labels(label, moving_affine, transform, out) for label in labels]
        maps = [dict(transform.GetParameterMap(i)) for i in range(transform.GetNumberOfParameterMaps())]
        ddf = self._ddf(_from_itk(field), fixed_affine, moving_affine)
        return ElastixResult(_from_itk(warped).astype(np.float32), ddf, self.units, warped_labels, maps)

    @staticmethod
    def _warp_labels(label: np.ndarray, affine: np.ndarray, transform, work: str) -> np.ndarray:
        itk = _itk()
        nearest = itk.ParameterObject.New()
        for i in range(transform.GetNumberOfParameterMaps()):
            parameter_map = transform.GetParameterMap(i)
            parameter_map["ResampleInterpolator"] = ["FinalNearestNeighborInterpolator"]
            nearest.AddParameterMap(parameter_map)
        warped = itk.transformix_filter(
            _to_itk(label, affine), transform_parameter_object=nearest, output_directory=work, log_to_console=False
        )
        return np.rint(_from_itk(warped)).astype(np.asarray(label).dtype)

    def _ddf(self, field_lps: np.ndarray, fixed_affine: np.ndarray, moving_affine: np.ndarray) -> np.ndarray:
        """Transformix's (X, Y, Z, 3) LPS mm field (fixed point -> moving point) as a (3, X, Y, Z) field."""
        field = np.moveaxis(field_lps.astype(np.float64), -1, 0)  # (3, X, Y, Z), LPS mm
        if self.units == "mm":
            return (field * np.array([-1.0, -1.0, 1.0])[:, None, None, None]).astype(np.float32)
        fixed_lps = _LPS @ np.asarray(fixed_affine, np.float64)
        moving_lps = _LPS @ np.asarray(moving_affine, np.float64)
        grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in field.shape[1:]], indexing="ij"))
        points = np.einsum("ij,j...->i...", fixed_lps[:3, :3], grid) + fixed_lps[:3, 3, None, None, None] + field
        to_moving = np.linalg.inv(moving_lps)
        moving_voxels = np.einsum("ij,j...->i...", to_moving[:3, :3], points) + to_moving[:3, 3, None, None, None]
        return (moving_voxels - grid).astype(np.float32)

"""Inference of a 2D network on 3D volumes slice by slice (along one or several axes), and on 2D images directly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SliceInferer

__all__ = ["MultiPlaneSliceInferer"]


class MultiPlaneSliceInferer(Inferer):
    """Mean of a 2D network's outputs run slice by slice along one or several axes of a volume.

    Each axis in ``planes`` is handled by a :class:`monai.inferers.SliceInferer` (whole slices when ``roi_size`` is
    ``(-1, -1)``) and the outputs, all on the volume's grid, are averaged. ``planes=(2,)`` is plain slice-by-slice
    inference along the third voxel axis; ``(0, 1, 2)`` averages the sagittal, coronal and axial passes: a 2D
    denoiser's remaining errors differ between orientations, so the mean has less of them (multi-planar fusion; it
    needs near-isotropic voxels for a network trained on one orientation). A 2D input (B, C, H, W), such as a
    single-frame DICOM image, is one slice and goes to the network once.

    Args:
        planes: spatial axes to slice along (0, 1, 2; each at most once).
        roi_size: in-plane window of every ``SliceInferer`` (``(-1, -1)``: whole slices).
        kwargs: further arguments of :class:`monai.inferers.SliceInferer` (``sw_batch_size``, ...).

    Shapes: (B, C, H, W, D) -> (B, C', H, W, D); (B, C, H, W) -> (B, C', H, W).

    Example::

        inferer = MultiPlaneSliceInferer(planes=(0, 1, 2), sw_batch_size=16)
        out = inferer(volume, net2d)  # the mean of the three orientations
    """

    def __init__(self, planes: Sequence[int] = (0, 1, 2), roi_size: Sequence[int] | int = (-1, -1), **kwargs: Any):
        super().__init__()
        planes = [int(p) for p in planes]
        if not planes or len(set(planes)) != len(planes) or any(p not in (0, 1, 2) for p in planes):
            raise ValueError(f"planes must be distinct spatial axes among 0, 1, 2, got {planes}")
        self.inferers = [SliceInferer(roi_size=roi_size, spatial_dim=p, **kwargs) for p in planes]

    def __call__(
        self,
        inputs: torch.Tensor,
        network: Callable[..., torch.Tensor],
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Average ``network`` over the slicing ``planes`` of a 3D ``inputs``; run it once on a 2D ``inputs``."""
        if inputs.ndim == 4:
            return network(inputs, *args, **kwargs)
        total = self.inferers[0](inputs, network, *args, **kwargs)
        for inferer in self.inferers[1:]:
            total = total + inferer(inputs, network, *args, **kwargs)
        return total / len(self.inferers)

"""Inference of a 2D network on 3D volumes slice by slice (along one or several axes), and on 2D images directly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SliceInferer

__all__ = ["MultiPlaneSliceInferer", "SliceOrImageInferer"]


class SliceOrImageInferer(SliceInferer):
    """:class:`monai.inferers.SliceInferer` that also accepts 2D images.

    A 3D input (B, C, H, W, D) is run slice by slice along ``spatial_dim`` as by ``SliceInferer`` (whole slices
    when ``roi_size`` is ``(-1, -1)``); a 2D input (B, C, H, W), such as a single-frame DICOM image, is one slice
    and goes to the network as it is. All arguments are those of ``SliceInferer``.

    Example::

        inferer = SliceOrImageInferer(roi_size=(-1, -1), spatial_dim=2, sw_batch_size=16)
        out = inferer(volume, net2d)  # (B, C, H, W, D) -> (B, C', H, W, D); (B, C, H, W) -> (B, C', H, W)
    """

    def __init__(self, roi_size: Sequence[int] | int = (-1, -1), spatial_dim: int = 2, **kwargs: Any) -> None:
        super().__init__(roi_size=roi_size, spatial_dim=spatial_dim, **kwargs)

    def __call__(
        self,
        inputs: torch.Tensor,
        network: Callable[..., torch.Tensor],
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Run ``network`` on every slice of a 3D ``inputs``, or once on a 2D ``inputs``."""
        if inputs.ndim == 4:
            return network(inputs, *args, **kwargs)
        return super().__call__(inputs, network, *args, **kwargs)


class MultiPlaneSliceInferer(Inferer):
    """Mean of a 2D network's outputs run slice by slice along several axes of a volume.

    The volume is processed as axial, coronal and sagittal slices (``planes`` lists the slicing axes among the
    three spatial axes) and the outputs, all on the volume's grid, are averaged: a 2D denoiser's remaining errors
    differ between orientations, so the mean has less of them (multi-planar fusion; it needs near-isotropic
    voxels for a network trained on one orientation). A 2D input goes to the network as it is.

    Args:
        planes: spatial axes to slice along (0, 1, 2; each at most once).
        roi_size: in-plane window of every :class:`SliceOrImageInferer` (``(-1, -1)``: whole slices).
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
        self.planes = planes
        self.inferers = [SliceOrImageInferer(roi_size=roi_size, spatial_dim=p, **kwargs) for p in planes]

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

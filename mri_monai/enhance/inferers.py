"""Inference of a 2D network on 3D volumes slice by slice, and on 2D images (single DICOM frames) directly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import SliceInferer

__all__ = ["SliceOrImageInferer"]


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

"""Post-processing transforms of learned registration: warping by a predicted field, and fixed-image geometry.

Outputs of a registration live on the fixed image's grid, but the network's input (and MONAI's ``Warp`` output)
carries the moving image's meta data, or none. These transforms give them the fixed image's meta (affine,
``filename_or_obj``...), so that ``SaveImaged`` writes them in the fixed image's geometry and names them after it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from copy import deepcopy

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.networks.blocks import Warp
from monai.transforms import MapTransform, Transform
from monai.utils import convert_to_tensor, ensure_tuple_rep

__all__ = ["WarpImage", "Warpd", "CopyMetad"]


class WarpImage(Transform):
    """Warp a channel-first image by a dense displacement field (MONAI ``Warp``; zeros outside the field of view).

    Args:
        mode: ``"bilinear"`` for intensities, ``"nearest"`` for label maps.

    Shapes:
        image: (C, X', Y', Z'). ddf: (3, X, Y, Z) in voxels of ``image``. output: (C, X, Y, Z), where voxel ``p``
        samples ``image`` at ``p + ddf[:, p]``; the dtype of ``image`` is kept (labels stay integer).
    """

    def __init__(self, mode: str = "bilinear") -> None:
        self.warp = Warp(mode=mode, padding_mode="zeros")

    def __call__(self, image: torch.Tensor, ddf: torch.Tensor) -> torch.Tensor:
        """Warp ``image`` (C, X', Y', Z') by ``ddf`` (3, X, Y, Z); returns a plain (C, X, Y, Z) tensor."""
        img = convert_to_tensor(image, track_meta=False)
        field = convert_to_tensor(ddf, track_meta=False).to(device=img.device, dtype=torch.float32)
        if img.ndim != 4 or field.ndim != 4 or field.shape[0] != 3:
            raise ValueError(f"expected (C, X, Y, Z) image and (3, X, Y, Z) ddf, got {img.shape} and {field.shape}")
        with torch.no_grad():
            out = self.warp(img[None].float(), field[None])[0]
        return out.round().to(img.dtype) if not img.is_floating_point() else out.to(img.dtype)


def _with_meta(data: torch.Tensor, reference: torch.Tensor) -> MetaTensor:
    meta = deepcopy(reference.meta) if isinstance(reference, MetaTensor) else {}
    return MetaTensor(convert_to_tensor(data, track_meta=False), meta=meta)


class Warpd(MapTransform):
    """Dictionary :class:`WarpImage`: warp ``keys`` by ``data[ddf_key]``; outputs carry ``reference_key``'s meta.

    Args:
        keys: images to warp (C, X', Y', Z').
        ddf_key: key of the (3, X, Y, Z) displacement (e.g. ``"pred"``).
        reference_key: key of the fixed image whose meta (affine, file name) the outputs take.
        output_keys: where to put the warped images (default: ``<key>_warped``).
        mode: interpolation per key, ``"bilinear"`` or ``"nearest"``.
        allow_missing_keys: skip missing ``keys``.
    """

    def __init__(
        self,
        keys: KeysCollection,
        ddf_key: str = "pred",
        reference_key: str = "fixed_image",
        output_keys: KeysCollection | None = None,
        mode: Sequence[str] | str = "bilinear",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ddf_key = ddf_key
        self.reference_key = reference_key
        self.output_keys = ensure_tuple_rep(output_keys, len(self.keys)) if output_keys else None
        self.warpers = [WarpImage(m) for m in ensure_tuple_rep(mode, len(self.keys))]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        outputs = self.output_keys or tuple(f"{k}_warped" for k in self.keys)
        for key, out_key, warper in self.key_iterator(d, outputs, self.warpers):
            d[out_key] = _with_meta(warper(d[key], d[self.ddf_key]), d[self.reference_key])
        return d


class CopyMetad(MapTransform):
    """Give ``keys`` the meta data (affine, file name...) of ``reference_key``, e.g. a predicted field the fixed's.

    Args:
        keys: tensors to re-label.
        reference_key: key of the image whose meta is copied.
        allow_missing_keys: skip missing ``keys``.
    """

    def __init__(self, keys: KeysCollection, reference_key: str = "fixed_image", allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        self.reference_key = reference_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = _with_meta(d[key], d[self.reference_key])
        return d

"""A training-free tumour segmentation: thresholds on FLAIR, T1 post-contrast and T2 z-scores."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from monai.utils import ensure_tuple
from scipy import ndimage

from mri_monai.data.tumour import ED, ET, NCR

__all__ = ["ThresholdSegmentation", "ThresholdSegmentationd"]


class ThresholdSegmentation:
    """Segment a tumour from channel-wise z-scored contrasts (T1, T1ce, T2, FLAIR) by thresholds.

    Enhancing tumour: T1ce above ``enhancing_z``. Whole tumour: the largest connected component of
    (FLAIR above ``flair_z``) or enhancing, with its holes filled. Necrotic core: whole tumour, not enhancing, T2
    above ``necrosis_t2_z``. Oedema: the rest of the whole tumour. Z-scores are over the brain (non-zero voxels),
    as ``NormalizeIntensity(nonzero=True, channel_wise=True)`` makes them.

    Args:
        flair_z: FLAIR threshold.
        enhancing_z: T1ce threshold.
        necrosis_t2_z: T2 threshold inside the non-enhancing tumour.
        channels: indices of T1ce, T2 and FLAIR in the input.

    Shapes: (4, X, Y, Z) -> (1, X, Y, Z) uint8 BraTS labels (0, 1, 2, 4).
    """

    def __init__(
        self,
        flair_z: float = 1.5,
        enhancing_z: float = 2.5,
        necrosis_t2_z: float = 2.7,
        channels: Mapping[str, int] | None = None,
    ) -> None:
        self.flair_z = flair_z
        self.enhancing_z = enhancing_z
        self.necrosis_t2_z = necrosis_t2_z
        self.channels = dict(channels or {"t1ce": 1, "t2": 2, "flair": 3})

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """The label map of ``image`` (see the class docstring)."""
        array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
        t1ce, t2, flair = (array[self.channels[c]] for c in ("t1ce", "t2", "flair"))
        enhancing = t1ce > self.enhancing_z
        candidate = (flair > self.flair_z) | enhancing
        components, count = ndimage.label(candidate)
        labels = np.zeros(array.shape[1:], dtype=np.uint8)
        if count:
            sizes = ndimage.sum_labels(candidate, components, index=np.arange(1, count + 1))
            whole = ndimage.binary_fill_holes(components == 1 + int(np.argmax(sizes)))
            labels[whole] = ED
            labels[whole & ~enhancing & (t2 > self.necrosis_t2_z)] = NCR
            labels[whole & enhancing] = ET
        out = torch.as_tensor(labels[None])
        return MetaTensor(out, meta=image.meta) if isinstance(image, MetaTensor) else out


class ThresholdSegmentationd(MapTransform):
    """Dictionary wrapper of :class:`ThresholdSegmentation`: segments ``keys`` into ``output_keys``.

    Args:
        keys: keys of the z-scored (4, X, Y, Z) images.
        output_keys: keys of the label maps (default: ``<key>_threshold``).
        kwargs: arguments of :class:`ThresholdSegmentation`.
    """

    def __init__(self, keys: KeysCollection, output_keys: KeysCollection | None = None, **kwargs) -> None:
        super().__init__(keys)
        self.output_keys = ensure_tuple(output_keys) if output_keys else tuple(f"{k}_threshold" for k in self.keys)
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got {self.output_keys} for {self.keys}")
        self.segment = ThresholdSegmentation(**kwargs)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key, out in zip(self.keys, self.output_keys, strict=True):
            d[out] = self.segment(d[key])
        return d

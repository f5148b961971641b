"""Dictionary transforms of the segmentation bundle: running comparison networks inside an evaluation."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from monai.inferers import Inferer
from monai.transforms import MapTransform

__all__ = ["InferWithNetworkd", "with_reference"]


class InferWithNetworkd(MapTransform):
    """Run another network on ``keys`` and store its output under ``output_key`` (e.g. a baseline in evaluation).

    Used in an evaluator's postprocessing, where items are decollated: the (C, *S) image gets a batch axis for the
    network and loses it again. The output keeps the input's meta data (affine, file name). ``network=None``
    (weights not available) leaves the item unchanged, so an evaluation can list optional comparison models.

    Args:
        keys: key of the network input (one key).
        network: the network, in eval mode on its device; or None.
        inferer: how to run it (e.g. MONAI ``SlidingWindowInferer``).
        output_key: key of the output, (C_out, *S).
    """

    def __init__(self, keys: Hashable, network: torch.nn.Module | None, inferer: Inferer, output_key: str) -> None:
        super().__init__(keys)
        if len(self.keys) != 1:
            raise ValueError(f"one input key, got {self.keys}")
        self.network = None if network is None else network.eval()
        self.inferer = inferer
        self.output_key = output_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.network is None:
            return d
        image = d[self.keys[0]]
        device = next(self.network.parameters()).device
        with torch.no_grad():
            out = self.inferer(torch.as_tensor(image)[None].to(device), self.network)[0].cpu()
        d[self.output_key] = MetaTensor(out, meta=image.meta) if isinstance(image, MetaTensor) else out
        return d


def with_reference(
    entries: Sequence[Mapping[str, Any]], label_key: str = "label", reference_key: str = "reference"
) -> list[dict[str, Any]]:
    """Copies of the datalist ``entries`` where each entry holding ``label_key`` also holds it as ``reference_key``.

    Inference does not load the label, but a figure handler can draw it as the reference outline from the copy.

    Example::

        with_reference([{"image": "a", "label": "b"}, {"image": "c"}])
        # [{"image": "a", "label": "b", "reference": "b"}, {"image": "c"}]
    """
    return [{**e, **({reference_key: e[label_key]} if label_key in e else {})} for e in entries]

"""Contrast translation helpers: bidirectional generator, unpaired datalists, slice-wise translation.

The pre-flight input check of its bundle: :func:`mri_monai.data.check_volumes`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from monai.inferers import SliceInferer
from torch import nn

__all__ = [
    "DIRECTIONS",
    "BidirectionalGenerator",
    "SliceTranslator",
    "generator_direction",
    "source_key",
    "target_key",
    "translation_cases",
    "translation_titles",
    "unpaired_datalist",
    "unpaired_reference_images",
]

#: translation direction -> (key of the input contrast, key of the output contrast); domain A is T1w, B is T2w
DIRECTIONS: dict[str, tuple[str, str]] = {"t1_to_t2": ("t1w", "t2w"), "t2_to_t1": ("t2w", "t1w")}

_TITLES = {"t1w": "T1w", "t2w": "T2w"}


def _direction(direction: str) -> tuple[str, str]:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    return DIRECTIONS[direction]


def source_key(direction: str) -> str:
    """Datalist key of the input contrast of ``direction``: ``"t1w"`` for ``"t1_to_t2"``, ``"t2w"`` for ``"t2_to_t1"``.

    Raises:
        ValueError: ``direction`` is not a key of :data:`DIRECTIONS`.
    """
    return _direction(direction)[0]


def target_key(direction: str) -> str:
    """Datalist key of the output contrast of ``direction``: ``"t2w"`` for ``"t1_to_t2"``, ``"t1w"`` for ``"t2_to_t1"``.

    Raises:
        ValueError: ``direction`` is not a key of :data:`DIRECTIONS`.
    """
    return _direction(direction)[1]


def generator_direction(direction: str) -> str:
    """The :class:`BidirectionalGenerator` ``direction`` of a translation direction (domain A is T1w, B is T2w).

    ``"t1_to_t2"`` -> ``"a_to_b"``, ``"t2_to_t1"`` -> ``"b_to_a"``.

    Raises:
        ValueError: ``direction`` is not a key of :data:`DIRECTIONS`.
    """
    return "a_to_b" if _direction(direction)[0] == "t1w" else "b_to_a"


def translation_titles(direction: str) -> list[str]:
    """Panel titles of an inference figure: input, translation, reference.

    ``"t1_to_t2"`` -> ``["input T1w", "translated T2w", "reference T2w"]``.

    Raises:
        ValueError: ``direction`` is not a key of :data:`DIRECTIONS`.
    """
    source, target = (_TITLES[k] for k in _direction(direction))
    return [f"input {source}", f"translated {target}", f"reference {target}"]


def translation_cases(entries: Sequence[dict], input_key: str, reference_key: str) -> list[dict]:
    """Inference items ``{"image", "subject"}`` (plus ``"reference"`` where the entry has ``reference_key``).

    Args:
        entries: datalist items holding ``input_key`` (and optionally ``reference_key`` and ``subject``).
        input_key: key of the image to translate, e.g. ``"t1w"``.
        reference_key: key of the true image of the output contrast, e.g. ``"t2w"``, used for a figure.

    Returns:
        one item per entry, in order; ``subject`` defaults to ``""``.
    """
    return [
        {
            "image": d[input_key],
            "subject": d.get("subject", ""),
            **({"reference": d[reference_key]} if reference_key in d else {}),
        }
        for d in entries
    ]


class BidirectionalGenerator(nn.Module):
    """The two generators of a translation model in one module; ``direction`` picks the one ``forward`` runs.

    Saving this module saves both directions in one state dict (``a_to_b.*``, ``b_to_a.*``), so one
    ``model.pt`` serves inference in either direction.

    Args:
        a_to_b: generator from domain A (e.g. T1w) to domain B (e.g. T2w).
        b_to_a: generator from B to A.
        direction: ``"a_to_b"`` or ``"b_to_a"``.

    Shapes: as the generators, e.g. (B, 1, H, W) -> (B, 1, H, W).
    """

    def __init__(self, a_to_b: nn.Module, b_to_a: nn.Module, direction: str = "a_to_b") -> None:
        super().__init__()
        if direction not in ("a_to_b", "b_to_a"):
            raise ValueError(f"direction must be 'a_to_b' or 'b_to_a', got {direction!r}")
        self.a_to_b = a_to_b
        self.b_to_a = b_to_a
        self.reverse = direction == "b_to_a"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reverse:
            return self.b_to_a(x)
        return self.a_to_b(x)


class SliceTranslator:
    """Translate whole volumes slice by slice with a 2D generator working in [-1, 1].

    Args:
        network: 2D generator, (N, C, H, W) in [-1, 1] -> (N, C, H, W) in [-1, 1].
        roi_size: in-plane window of the network (MONAI ``SliceInferer`` pads or tiles other sizes).
        spatial_dim: spatial axis of the slices (2: axial slices of a RAS volume).
        sw_batch_size: slices per network call.

    Shapes: ``__call__``: (B, C, X, Y, Z) in [0, 1] -> (B, C, X, Y, Z) in [0, 1].
    """

    def __init__(
        self, network: nn.Module, roi_size: Sequence[int] = (128, 128), spatial_dim: int = 2, sw_batch_size: int = 16
    ) -> None:
        self.network = network
        self.inferer = SliceInferer(roi_size=tuple(roi_size), spatial_dim=spatial_dim, sw_batch_size=sw_batch_size)

    @torch.no_grad()
    def __call__(self, volume: torch.Tensor) -> torch.Tensor:
        self.network.eval()
        out = self.inferer(volume * 2 - 1, self.network)
        return ((out + 1) / 2).clamp(0, 1)


def unpaired_datalist(entries: Sequence[dict], a_key: str, b_key: str) -> list[dict]:
    """Items pairing domain A of one subject with domain B of another, so that no training pair corresponds.

    The subjects are split in two halves: A images come from the first, B images from the second, cycled to
    the longer half's length. With a single subject (smoke tests) its own A and B are paired, with a warning.

    Args:
        entries: datalist items holding ``a_key`` and ``b_key`` (and ``subject``, optional).
        a_key: key of domain A, e.g. ``"t1w"``. b_key: key of domain B, e.g. ``"t2w"``.

    Returns:
        items ``{a_key, b_key, "subject_a", "subject_b"}``.

    Raises:
        ValueError: ``entries`` is empty.
    """
    entries = list(entries)
    if not entries:
        raise ValueError("the training datalist is empty")
    if len(entries) == 1:
        warnings.warn("one training subject: its own A and B images are paired (not an unpaired setting)", stacklevel=2)
        first = second = entries
    else:
        half = (len(entries) + 1) // 2
        first, second = entries[:half], entries[half:]
    n = max(len(first), len(second))
    return [
        {
            a_key: first[i % len(first)][a_key],
            b_key: second[i % len(second)][b_key],
            "subject_a": first[i % len(first)].get("subject", ""),
            "subject_b": second[i % len(second)].get("subject", ""),
        }
        for i in range(n)
    ]


def unpaired_reference_images(
    entries: Sequence[dict], transform: Callable[[dict], dict], key: str, half: int
) -> list[torch.Tensor]:
    """The images under ``key`` of one half of ``entries`` after ``transform``, split as :func:`unpaired_datalist`.

    ``half=0``: the first ``ceil(n / 2)`` entries (the half giving domain A in training); ``half=1``: the rest, or
    all entries when there is no second half (a single subject). E.g. the reference intensities of a
    histogram-matching baseline, taken from the training subjects that showed the model this contrast.

    Args:
        entries: datalist items.
        transform: maps an item to a dict of loaded images (e.g. a ``Compose`` of ``LoadImaged``...).
        key: image to keep, e.g. ``"t2w"``.
        half: 0 or 1.
    """
    if half not in (0, 1):
        raise ValueError(f"half must be 0 or 1, got {half}")
    middle = (len(entries) + 1) // 2
    chosen = entries[:middle] if half == 0 else (entries[middle:] or entries)
    return [transform(d)[key] for d in chosen]

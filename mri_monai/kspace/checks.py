"""Checks on k-space and masks that turn bad input into clear :class:`~mri_monai.errors.InputError` messages."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mri_monai.errors import InputError, check_finite

__all__ = ["check_kspace", "check_mask"]


def check_kspace(kspace: torch.Tensor, source: str = "<kspace>", min_dims: int = 2) -> None:
    """Raise :class:`InputError` unless ``kspace`` is a finite complex tensor with at least ``min_dims`` dimensions.

    Args:
        kspace: the k-space, e.g. (C, H, W) ``torch.complex64``.
        source: label used at the start of the message, e.g. a file name or ``"key 'kspace'"``.
        min_dims: the number of trailing spatial dimensions the caller needs.

    Example::

        check_kspace(torch.ones(4, 4))
        # InputError: <kspace>: k-space is real-valued (torch.float32); expected a complex tensor ...
    """
    if not isinstance(kspace, torch.Tensor):
        raise InputError(source, f"k-space must be a complex torch.Tensor, got {type(kspace).__name__}")
    if not torch.is_complex(kspace):
        raise InputError(
            source,
            f"k-space is real-valued ({kspace.dtype}); expected a complex tensor such as torch.complex64 "
            "(convert a two-channel real layout with FromChannels first)",
        )
    if kspace.ndim < min_dims:
        raise InputError(source, f"k-space needs at least {min_dims} dimensions, got shape {tuple(kspace.shape)}")
    check_finite(kspace, source, "k-space")


def check_mask(mask: torch.Tensor, shape: Sequence[int], source: str = "<mask>") -> torch.Tensor:
    """Return ``mask`` as a boolean tensor after checking that it broadcasts over a k-space of ``shape``.

    A mask broadcasts when, aligned on the last dimension, each of its sizes is 1 or equal to the k-space size
    and it has no more dimensions than the k-space; e.g. (W,), (1, W) and (H, W) all fit (C, H, W).
    The broadcast must not enlarge the k-space.

    Args:
        mask: sampling mask, boolean or 0/1 valued.
        shape: the k-space shape.
        source: label used at the start of the message.

    Returns:
        the mask as ``torch.bool`` with its own shape.
    """
    mask = torch.as_tensor(mask)
    shape = tuple(shape)
    fits = mask.ndim <= len(shape) and all(
        m in (1, s) for m, s in zip(reversed(mask.shape), reversed(shape), strict=False)
    )
    if not fits:
        raise InputError(source, f"mask of shape {tuple(mask.shape)} does not broadcast over k-space of shape {shape}")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise InputError(source, "mask must be boolean or hold only 0 and 1")
        mask = mask != 0
    return mask

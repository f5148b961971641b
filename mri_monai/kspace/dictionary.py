"""Dictionary wrappers of :mod:`mri_monai.kspace.array`.

Each wrapper returns a new dictionary: the listed keys are replaced by the transformed tensors, extra outputs
(mask, acceleration, sensitivities) go to their own configurable keys, and all other keys are kept as they are.
The input tensors are never modified in place. Random wrappers draw their parameters once per call and apply
them to every listed key; ``set_random_state(seed)`` makes them deterministic.

Example::

    from monai.transforms import Compose, CopyItemsd
    pipeline = Compose([
        RandComplexNoised("kspace", prob=1.0, snr_range=(20, 40)),
        CopyItemsd("kspace", names="target"),
        ZeroFilledd("target"),  # (1, H, W) fully sampled RSS image
        RandUndersampled("kspace", "random", [0.08, 0.04], [4, 8]),  # adds "mask", "acceleration", ...
        EstimateSensitivitiesd("kspace", mask_key="mask", sens_keys="sens"),
    ])
    pipeline.set_random_state(0)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, RandomizableTransform
from monai.utils import ensure_tuple_rep

from mri_monai.errors import InputError

from .array import (
    ApplyMask,
    CoilCombine,
    EstimateSensitivities,
    Fourier,
    FromChannels,
    InverseFourier,
    RandComplexNoise,
    RandKspaceSpike,
    RandMotionLines,
    RandSimulateCoils,
    RandUndersample,
    ToChannels,
    ZeroFilled,
)

__all__ = [
    "Fourierd",
    "InverseFourierd",
    "ToChannelsd",
    "FromChannelsd",
    "ApplyMaskd",
    "RandUndersampled",
    "CoilCombined",
    "ZeroFilledd",
    "EstimateSensitivitiesd",
    "RandSimulateCoilsd",
    "RandComplexNoised",
    "RandMotionLinesd",
    "RandKspaceSpiked",
]


def _keyed(key: Hashable, transform: Callable, *args: Any) -> Any:
    """Call ``transform(*args)``, naming the dictionary key in any :class:`InputError`."""
    try:
        return transform(*args)
    except InputError as error:
        raise InputError(f"data[{key!r}]", error.problem) from None


class _Mapd(MapTransform):
    """Apply an array transform with no extra inputs to each key."""

    transform: Callable

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.transform, d[key])
        return d


class Fourierd(_Mapd):
    """Dictionary version of :class:`~mri_monai.kspace.array.Fourier` (image to k-space).

    Example::

        Fourierd("image")({"image": coil_images})["image"]  # (C, H, W) k-space
    """

    def __init__(self, keys: KeysCollection, spatial_dims: int = 2, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = Fourier(spatial_dims)


class InverseFourierd(_Mapd):
    """Dictionary version of :class:`~mri_monai.kspace.array.InverseFourier` (k-space to image).

    Example::

        InverseFourierd("kspace")({"kspace": kspace})["kspace"]  # (C, H, W) coil images
    """

    def __init__(self, keys: KeysCollection, spatial_dims: int = 2, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = InverseFourier(spatial_dims)


class ToChannelsd(_Mapd):
    """Dictionary version of :class:`~mri_monai.kspace.array.ToChannels`: complex (C, ...) to real (2C, ...).

    Example::

        ToChannelsd("image")({"image": image})["image"]  # (2, H, W) float32
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = ToChannels()


class FromChannelsd(_Mapd):
    """Dictionary version of :class:`~mri_monai.kspace.array.FromChannels`: real (2C, ...) to complex (C, ...).

    Example::

        FromChannelsd("pred")({"pred": x})["pred"]  # (1, H, W) complex64
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = FromChannels()


class ApplyMaskd(MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.ApplyMask`: mask k-space with ``data[mask_key]``.

    Example::

        ApplyMaskd("kspace", mask_key="mask")({"kspace": kspace, "mask": mask})["kspace"]
    """

    def __init__(self, keys: KeysCollection, mask_key: str = "mask", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_key = mask_key
        self.apply = ApplyMask()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.apply, d[key], d[self.mask_key])
        return d


class RandUndersampled(Randomizable, MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.RandUndersample`.

    One mask is drawn per call and applied to every key; it is stored under ``mask_key`` (bool, shaped to
    broadcast over the k-space, e.g. (1, 1, W) or (1, H, W) for (C, H, W)), its real acceleration under
    ``acceleration_key`` (float) and the number of fully sampled central lines along W under
    ``num_low_frequencies_key`` (int).

    Args:
        keys: k-space keys, complex (H, W), (C, H, W) or (C, D, H, W).
        mask_type: ``"random"``, ``"equispaced"``, ``"equispaced_fraction"``, ``"poisson"`` or ``"radial"``.
        center_fractions: fully sampled central fractions, one per acceleration.
        accelerations: nominal accelerations; one pair is chosen at random per call.
        mask_key, acceleration_key, num_low_frequencies_key: output keys.

    Example::

        t = RandUndersampled("kspace", "equispaced_fraction", [0.08], [4]).set_random_state(0)
        out = t({"kspace": kspace})  # out["mask"], out["acceleration"] (about 4.0), out["num_low_frequencies"]
    """

    def __init__(
        self,
        keys: KeysCollection,
        mask_type: str = "random",
        center_fractions: Sequence[float] = (0.08,),
        accelerations: Sequence[float] = (4.0,),
        mask_key: str = "mask",
        acceleration_key: str = "acceleration",
        num_low_frequencies_key: str = "num_low_frequencies",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.undersample = RandUndersample(mask_type, center_fractions, accelerations)
        self.mask_key = mask_key
        self.acceleration_key = acceleration_key
        self.num_low_frequencies_key = num_low_frequencies_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandUndersampled:
        super().set_random_state(seed, state)
        self.undersample.set_random_state(seed, state)
        return self

    def randomize(self, data: None = None) -> None:
        self.undersample.randomize()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.undersample, d[key], False)
            d[self.mask_key] = self.undersample.mask
            d[self.acceleration_key] = self.undersample.acceleration
            d[self.num_low_frequencies_key] = self.undersample.num_low_frequencies
        return d


class CoilCombined(MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.CoilCombine`; ``"sense"`` reads ``data[sens_key]``.

    Example::

        CoilCombined("image", method="sense")({"image": coil_images, "sens": sens})["image"]  # (1, H, W)
    """

    def __init__(
        self,
        keys: KeysCollection,
        method: str = "rss",
        spatial_dims: int = 2,
        sens_key: str = "sens",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.combine = CoilCombine(method, spatial_dims)
        self.sens_key = sens_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        sens = d.get(self.sens_key) if self.combine.method == "sense" else None
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.combine, d[key], sens)
        return d


class ZeroFilledd(MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.ZeroFilled`: k-space keys become combined images.

    Copy the k-space first (MONAI ``CopyItemsd``) to keep it for data consistency.

    Example::

        ZeroFilledd("zero_filled")({"zero_filled": masked_kspace})["zero_filled"]  # (1, H, W) float32
    """

    def __init__(
        self,
        keys: KeysCollection,
        method: str = "rss",
        spatial_dims: int = 2,
        sens_key: str = "sens",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.zero_filled = ZeroFilled(method, spatial_dims)
        self.sens_key = sens_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        sens = d.get(self.sens_key) if self.zero_filled.combine.method == "sense" else None
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.zero_filled, d[key], sens)
        return d


class EstimateSensitivitiesd(MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.EstimateSensitivities`.

    Reads the k-space keys and ``data[mask_key]`` and writes the (C, H, W) sensitivities to ``sens_keys``
    (one per key); the k-space is kept.

    Example::

        EstimateSensitivitiesd("kspace")({"kspace": masked_kspace, "mask": mask})["sens"]
    """

    def __init__(
        self,
        keys: KeysCollection,
        mask_key: str = "mask",
        sens_keys: KeysCollection = "sens",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_key = mask_key
        self.sens_keys = ensure_tuple_rep(sens_keys, len(self.keys))
        self.estimate = EstimateSensitivities()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key, sens_key in self.key_iterator(d, self.sens_keys):
            d[sens_key] = _keyed(key, self.estimate, d[key], d[self.mask_key])
        return d


class RandSimulateCoilsd(Randomizable, MapTransform):
    """Dictionary version of :class:`~mri_monai.kspace.array.RandSimulateCoils`.

    Image keys (H, W) or (1, H, W) become (C, H, W) complex coil images; the sensitivities go to ``sens_key``.
    All keys share one draw.

    Example::

        out = RandSimulateCoilsd("image", num_coils=8).set_random_state(0)({"image": image})
        out["image"].shape, out["sens"].shape  # (8, H, W), (8, H, W)
    """

    def __init__(
        self,
        keys: KeysCollection,
        num_coils: int = 8,
        coil_distance: float = 1.5,
        sens_key: str = "sens",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.simulate = RandSimulateCoils(num_coils, coil_distance)
        self.sens_key = sens_key

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandSimulateCoilsd:
        super().set_random_state(seed, state)
        self.simulate.set_random_state(seed, state)
        return self

    def randomize(self, data: None = None) -> None:
        self.simulate.randomize()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.simulate, d[key], False)
            d[self.sens_key] = self.simulate.sens
        return d


class _RandArtefactd(RandomizableTransform, MapTransform):
    """Shared logic of the random k-space wrappers: one draw per call from the first key, applied to all keys."""

    artefact: RandComplexNoise | RandMotionLines | RandKspaceSpike

    def __init__(self, keys: KeysCollection, prob: float, allow_missing_keys: bool) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> _RandArtefactd:
        super().set_random_state(seed, state)
        self.artefact.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize(None)
        first = self.first_key(d)
        if not self._do_transform or first == ():
            return d
        self.artefact.randomize(*self._randomize_args(d[first]))
        for key in self.key_iterator(d):
            d[key] = _keyed(key, self.artefact, d[key], False)
        return d

    def _randomize_args(self, kspace: Any) -> tuple:
        return ()


class RandComplexNoised(_RandArtefactd):
    """Dictionary version of :class:`~mri_monai.kspace.array.RandComplexNoise`.

    Example::

        RandComplexNoised("kspace", prob=1.0, snr_range=(20, 40)).set_random_state(0)({"kspace": kspace})
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        snr_range: tuple[float, float] = (10.0, 40.0),
        spatial_dims: int = 2,
        log_uniform: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        self.artefact = RandComplexNoise(1.0, snr_range, spatial_dims, log_uniform)
        super().__init__(keys, prob, allow_missing_keys)


class RandMotionLinesd(_RandArtefactd):
    """Dictionary version of :class:`~mri_monai.kspace.array.RandMotionLines`.

    Example::

        RandMotionLinesd("kspace", prob=1.0, line_fraction=(0.1, 0.2)).set_random_state(0)({"kspace": kspace})
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        line_fraction: tuple[float, float] = (0.05, 0.2),
        max_shift: float = 5.0,
        allow_missing_keys: bool = False,
    ) -> None:
        self.artefact = RandMotionLines(1.0, line_fraction, max_shift)
        super().__init__(keys, prob, allow_missing_keys)

    def _randomize_args(self, kspace: Any) -> tuple:
        return (kspace.shape[-1],)


class RandKspaceSpiked(_RandArtefactd):
    """Dictionary version of :class:`~mri_monai.kspace.array.RandKspaceSpike`.

    Example::

        RandKspaceSpiked("kspace", prob=1.0, num_spikes=2).set_random_state(0)({"kspace": kspace})
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        num_spikes: int = 1,
        intensity_range: tuple[float, float] = (0.1, 1.0),
        allow_missing_keys: bool = False,
    ) -> None:
        self.artefact = RandKspaceSpike(1.0, num_spikes, intensity_range)
        super().__init__(keys, prob, allow_missing_keys)

    def _randomize_args(self, kspace: Any) -> tuple:
        return (tuple(kspace.shape[-2:]),)

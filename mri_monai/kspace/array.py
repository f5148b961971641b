"""Array transforms on complex k-space and coil images (channel-first, ``torch.complex64``).

Shapes: 2D multi-coil k-space is (C, H, W) with the coils as channels, 3D is (C, D, H, W); 1D masks sample
along W. Random transforms are MONAI ``Randomizable``: ``set_random_state(seed)`` makes them deterministic.
The two-channel real layout exists only at network boundaries (:class:`ToChannels`, :class:`FromChannels`).

Relation to ``monai.apps.reconstruction``: its ``RandomKspaceMask``/``EquispacedKspaceMask`` work on the
two-channel real layout and also return the zero-filled RSS image; here the same fastMRI semantics work on
complex k-space (:class:`RandUndersample`, with more mask types) and the zero-filled image is its own
transform (:class:`ZeroFilled`). Its ``ReferenceBasedSpatialCropd`` and ``ReferenceBasedNormalizeIntensityd``
work on real images and fit as they are after :class:`ZeroFilled`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import get_track_meta
from monai.transforms import Randomizable, RandomizableTransform, Transform
from monai.utils import TransformBackends, convert_to_tensor

from mri_monai.errors import InputError, check_finite

from .artefacts import apply_kspace_spikes, apply_motion_lines
from .checks import check_kspace
from .coils import rss, sensitivity_combine, sensitivity_expand, simulate_coil_sensitivities
from .fft import channels_to_complex, complex_to_channels, fftnc, ifftnc
from .masks import apply_mask, create_mask_func
from .noise import add_complex_noise, noise_sigma_for_snr
from .sensitivity import estimate_sensitivities

__all__ = [
    "Fourier",
    "InverseFourier",
    "ToChannels",
    "FromChannels",
    "ApplyMask",
    "RandUndersample",
    "CoilCombine",
    "ZeroFilled",
    "EstimateSensitivities",
    "RandSimulateCoils",
    "RandComplexNoise",
    "RandMotionLines",
    "RandKspaceSpike",
]

_SEED_MAX = 2**31 - 1


def _spatial_dims(spatial_dims: int) -> tuple[int, ...]:
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
    return tuple(range(-spatial_dims, 0))


def _tensor(data: NdarrayOrTensor) -> torch.Tensor:
    return convert_to_tensor(data, track_meta=get_track_meta())


class Fourier(Transform):
    """Image to k-space: centred orthonormal FFT over the last ``spatial_dims`` dimensions.

    Real images are promoted to complex (float32 to complex64).

    Args:
        spatial_dims: 2 for (C, H, W), 3 for (C, D, H, W).

    Example::

        kspace = Fourier()(coil_images)  # (C, H, W) complex64 -> (C, H, W) complex64
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, spatial_dims: int = 2) -> None:
        self.dims = _spatial_dims(spatial_dims)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        img = _tensor(img)
        check_finite(img, "<image>", "image")
        return fftnc(img.to(torch.promote_types(img.dtype, torch.complex64)), self.dims)


class InverseFourier(Transform):
    """k-space to image: centred orthonormal inverse FFT over the last ``spatial_dims`` dimensions.

    Args:
        spatial_dims: 2 for (C, H, W), 3 for (C, D, H, W).

    Raises:
        InputError: real-valued or non-finite k-space.

    Example::

        coil_images = InverseFourier()(kspace)  # (C, H, W) complex64
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, spatial_dims: int = 2) -> None:
        self.dims = _spatial_dims(spatial_dims)

    def __call__(self, kspace: NdarrayOrTensor) -> torch.Tensor:
        kspace = _tensor(kspace)
        check_kspace(kspace, min_dims=len(self.dims))
        return ifftnc(kspace, self.dims)


class ToChannels(Transform):
    """Complex (C, ...) to real (2C, ...): real parts of all channels, then imaginary parts (network input).

    Example::

        x = ToChannels()(image)  # (1, H, W) complex64 -> (2, H, W) float32
    """

    backend = [TransformBackends.TORCH]

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        img = _tensor(img)
        check_kspace(img, "<image>", min_dims=1)
        return complex_to_channels(img, dim=0)


class FromChannels(Transform):
    """Real (2C, ...) to complex (C, ...), the inverse of :class:`ToChannels` (network output).

    Example::

        image = FromChannels()(x)  # (2, H, W) float32 -> (1, H, W) complex64
    """

    backend = [TransformBackends.TORCH]

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        img = _tensor(img)
        if torch.is_complex(img):
            raise InputError("<image>", f"expected a real two-channel layout, got complex {img.dtype}")
        return channels_to_complex(img, dim=0)


class ApplyMask(Transform):
    """Zero the k-space points a given mask does not sample (e.g. the ``mask`` stored in a fastMRI file).

    Example::

        masked = ApplyMask()(kspace, mask)  # kspace (C, H, W), mask (W,), (1, W) or (H, W)
    """

    backend = [TransformBackends.TORCH]

    def __call__(self, kspace: NdarrayOrTensor, mask: NdarrayOrTensor) -> torch.Tensor:
        return apply_mask(_tensor(kspace), torch.as_tensor(mask))


class RandUndersample(Randomizable, Transform):
    """Undersample k-space with a random mask of fastMRI semantics.

    At each call one (center fraction, acceleration) pair is chosen and a new mask drawn (see
    :mod:`mri_monai.kspace.masks`). After the call, :attr:`mask` holds the mask reshaped to broadcast over the
    k-space (``(1, 1, W)`` for 1D and ``(1, H, W)`` for 2D masks of (C, H, W) k-space), :attr:`acceleration`
    the real acceleration and :attr:`num_low_frequencies` the number of fully sampled central lines along W.

    Args:
        mask_type: ``"random"``, ``"equispaced"``, ``"equispaced_fraction"``, ``"poisson"`` or ``"radial"``.
        center_fractions: fully sampled central fractions, one per acceleration.
        accelerations: nominal accelerations.

    Example::

        undersample = RandUndersample("poisson", [0.08, 0.04], [4, 8]).set_random_state(0)
        masked = undersample(kspace)  # (C, H, W) complex64, zero where not sampled
        undersample.mask.shape, undersample.acceleration  # (1, H, W), e.g. 4.01
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        mask_type: str = "random",
        center_fractions: Sequence[float] = (0.08,),
        accelerations: Sequence[float] = (4.0,),
    ) -> None:
        self.mask_func = create_mask_func(mask_type, center_fractions, accelerations)
        self.mask: torch.Tensor | None = None
        self.acceleration: float | None = None
        self.num_low_frequencies: int | None = None
        self._seed = 0
        self._sampled_for: tuple | None = None

    def randomize(self, data: None = None) -> None:
        self._seed = int(self.R.randint(_SEED_MAX))

    def __call__(self, kspace: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        """Undersample ``kspace``.

        Args:
            kspace: complex (H, W), (C, H, W) or (C, D, H, W).
            randomize: draw a new mask; with ``False`` the last mask is reused.
        """
        kspace = _tensor(kspace)
        check_kspace(kspace)
        if randomize:
            self.randomize()
        plane = tuple(kspace.shape[-2:])
        if self._sampled_for != (self._seed, plane):
            sampled = self.mask_func(plane, seed=self._seed)
            self.mask, self.acceleration, self.num_low_frequencies = sampled
            self._sampled_for = (self._seed, plane)
        self.mask = self.mask.reshape((1,) * (kspace.ndim - 2) + self.mask.shape[-2:])
        return kspace * self.mask.to(kspace.device)


def _coil_dim(spatial_dims: int) -> int:
    return -len(_spatial_dims(spatial_dims)) - 1


class CoilCombine(Transform):
    """Combine coil images into one channel: root-sum-of-squares or sensitivity-weighted (SENSE-1).

    Args:
        method: ``"rss"`` (real magnitude output) or ``"sense"`` (complex ``sum_c conj(S_c) x_c``; needs ``sens``).
        spatial_dims: 2 for (C, H, W), 3 for (C, D, H, W); the coils are the dimension before the spatial ones.

    Example::

        magnitude = CoilCombine("rss")(coil_images)  # (C, H, W) -> (1, H, W) float32
        image = CoilCombine("sense")(coil_images, sens)  # (C, H, W) -> (1, H, W) complex64
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, method: str = "rss", spatial_dims: int = 2) -> None:
        if method not in ("rss", "sense"):
            raise ValueError(f"method must be 'rss' or 'sense', got {method!r}")
        self.method = method
        self.coil_dim = _coil_dim(spatial_dims)

    def __call__(self, img: NdarrayOrTensor, sens: NdarrayOrTensor | None = None) -> torch.Tensor:
        img = _tensor(img)
        if img.ndim < -self.coil_dim:
            raise InputError("<image>", f"coil images need {-self.coil_dim} dimensions, got {tuple(img.shape)}")
        check_finite(img, "<image>", "coil images")
        if self.method == "rss":
            return rss(img, dim=self.coil_dim).unsqueeze(self.coil_dim)
        if sens is None:
            raise ValueError("method 'sense' needs the coil sensitivities")
        sens = torch.as_tensor(sens)
        if sens.shape != img.shape:
            raise InputError("<sens>", f"sensitivities {tuple(sens.shape)} do not match coil images {tuple(img.shape)}")
        return sensitivity_combine(img, sens.to(img.device), dim=self.coil_dim).unsqueeze(self.coil_dim)


class ZeroFilled(Transform):
    """Zero-filled reconstruction: inverse FFT of (undersampled) k-space, then :class:`CoilCombine`.

    Args:
        method: ``"rss"`` or ``"sense"``.
        spatial_dims: 2 or 3.

    Example::

        image = ZeroFilled()(masked_kspace)  # (C, H, W) complex -> (1, H, W) float32
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, method: str = "rss", spatial_dims: int = 2) -> None:
        self.inverse = InverseFourier(spatial_dims)
        self.combine = CoilCombine(method, spatial_dims)

    def __call__(self, kspace: NdarrayOrTensor, sens: NdarrayOrTensor | None = None) -> torch.Tensor:
        return self.combine(self.inverse(kspace), sens)


class EstimateSensitivities(Transform):
    """Coil sensitivities from the auto-calibration lines (see :mod:`mri_monai.kspace.sensitivity`).

    Example::

        sens = EstimateSensitivities()(masked_kspace, mask)  # (C, H, W) complex, sum_c |S_c|^2 = 1
    """

    backend = [TransformBackends.TORCH]

    def __call__(self, kspace: NdarrayOrTensor, mask: NdarrayOrTensor) -> torch.Tensor:
        return estimate_sensitivities(_tensor(kspace), torch.as_tensor(mask))


class RandSimulateCoils(Randomizable, Transform):
    """Multi-coil images ``S_c x`` from one image with simulated sensitivities (random array rotation and phases).

    After the call :attr:`sens` holds the (C, H, W) sensitivities used.

    Args:
        num_coils: number of coils C.
        coil_distance: coil radius relative to half the field of view (see ``simulate_coil_sensitivities``).

    Example::

        coils = RandSimulateCoils(8).set_random_state(0)(image)  # (1, H, W) -> (8, H, W) complex64
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, num_coils: int = 8, coil_distance: float = 1.5) -> None:
        self.num_coils = num_coils
        self.coil_distance = coil_distance
        self.sens: torch.Tensor | None = None
        self._seed = 0

    def randomize(self, data: None = None) -> None:
        self._seed = int(self.R.randint(_SEED_MAX))

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        """Coil images of ``img``.

        Args:
            img: (H, W) or (1, H, W) image, real or complex.
            randomize: draw new sensitivities; with ``False`` the last seed is reused.
        """
        img = _tensor(img)
        if img.ndim == 3 and img.shape[0] == 1:
            img = img[0]
        if img.ndim != 2:
            raise InputError("<image>", f"expected an (H, W) or (1, H, W) image, got shape {tuple(img.shape)}")
        check_finite(img, "<image>", "image")
        if randomize:
            self.randomize()
        self.sens = simulate_coil_sensitivities(tuple(img.shape), self.num_coils, self.coil_distance, self._seed)
        image = img.to(torch.promote_types(img.dtype, torch.complex64))
        return sensitivity_expand(image, self.sens.to(device=img.device, dtype=image.dtype))


class RandComplexNoise(RandomizableTransform):
    """Add complex Gaussian noise to k-space at a random signal-to-noise ratio.

    The SNR is the mean of the RSS image over the object (points above 10 % of its maximum) divided by the
    noise standard deviation of each real and imaginary part; with orthonormal FFTs that ``sigma`` is the same
    in k-space and in each coil image. Apply it to fully sampled k-space, before undersampling.
    After the call :attr:`sigma` holds the standard deviation used.

    Args:
        prob: probability of adding noise.
        snr_range: (low, high) range of the linear SNR.
        spatial_dims: 2 or 3.
        log_uniform: draw the SNR uniformly on a log scale (for ranges spanning decades, e.g. (5, 200)).

    Example::

        noisy = RandComplexNoise(prob=1.0, snr_range=(20, 40)).set_random_state(0)(kspace)
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        prob: float = 0.1,
        snr_range: tuple[float, float] = (10.0, 40.0),
        spatial_dims: int = 2,
        log_uniform: bool = False,
    ) -> None:
        super().__init__(prob)
        if not 0 < snr_range[0] <= snr_range[1]:
            raise ValueError(f"snr_range must be (low, high) with 0 < low <= high, got {snr_range}")
        self.snr_range = snr_range
        self.log_uniform = log_uniform
        self.dims = _spatial_dims(spatial_dims)
        self.snr = float(snr_range[0])
        self.sigma: float | None = None
        self._seed = 0

    def randomize(self, data: None = None) -> None:
        super().randomize(None)
        if self._do_transform:
            if self.log_uniform:
                self.snr = float(np.exp(self.R.uniform(*np.log(self.snr_range))))
            else:
                self.snr = float(self.R.uniform(*self.snr_range))
            self._seed = int(self.R.randint(_SEED_MAX))

    def __call__(self, kspace: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        kspace = _tensor(kspace)
        check_kspace(kspace, min_dims=len(self.dims))
        if randomize:
            self.randomize()
        if not self._do_transform:
            return kspace
        images = ifftnc(kspace, self.dims).abs()
        magnitude = rss(images.reshape(-1, *images.shape[-len(self.dims) :]), dim=0)
        self.sigma = noise_sigma_for_snr(magnitude, self.snr, magnitude >= 0.1 * magnitude.max())
        return add_complex_noise(kspace, self.sigma, torch.Generator().manual_seed(self._seed))


class RandMotionLines(RandomizableTransform):
    """Rigid-motion artefact: random phase-encode lines (columns along W) acquired with the object translated.

    A random fraction of the W columns is chosen and each gets its own in-plane translation (dy, dx) drawn
    uniformly from ``[-max_shift, max_shift]`` pixels, applied as a linear phase (see
    :func:`~mri_monai.kspace.artefacts.apply_motion_lines`); magnitudes and all other columns are unchanged.
    After the call :attr:`lines` and :attr:`shifts` hold what was applied.

    Args:
        prob: probability of applying the artefact.
        line_fraction: (low, high) range of the fraction of columns that are corrupted.
        max_shift: largest translation in pixels along each axis.

    Example::

        moved = RandMotionLines(prob=1.0, line_fraction=(0.1, 0.2), max_shift=4).set_random_state(0)(kspace)
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self, prob: float = 0.1, line_fraction: tuple[float, float] = (0.05, 0.2), max_shift: float = 5.0
    ) -> None:
        super().__init__(prob)
        if not 0 <= line_fraction[0] <= line_fraction[1] <= 1:
            raise ValueError(f"line_fraction must satisfy 0 <= low <= high <= 1, got {line_fraction}")
        self.line_fraction = line_fraction
        self.max_shift = max_shift
        self.lines = torch.zeros(0, dtype=torch.long)
        self.shifts = torch.zeros(0, 2, dtype=torch.float64)

    def randomize(self, width: int) -> None:
        super().randomize(None)
        if self._do_transform:
            count = round(width * self.R.uniform(*self.line_fraction))
            self.lines = torch.from_numpy(self.R.choice(width, size=count, replace=False)).sort().values
            self.shifts = torch.from_numpy(self.R.uniform(-self.max_shift, self.max_shift, size=(count, 2)))

    def __call__(self, kspace: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        kspace = _tensor(kspace)
        check_kspace(kspace)
        if randomize:
            self.randomize(kspace.shape[-1])
        if not self._do_transform:
            return kspace
        return apply_motion_lines(kspace, self.lines, self.shifts)


class RandKspaceSpike(RandomizableTransform):
    """Spike (herringbone) artefact on complex k-space: a few random points set to a large magnitude.

    MONAI's ``RandKSpaceSpikeNoise`` does the same to *real images*: it takes their (unnormalised) FFT, sets
    the log-magnitude at random locations and returns only the real part of the inverse FFT. On our complex
    k-space it would need a round trip through image space that discards the imaginary part (the phase of
    every coil image), and its absolute log-intensity scale depends on the FFT normalisation. This transform
    keeps k-space complex and gives the spike magnitude relative to each coil's k-space peak; for real
    magnitude images in image-domain pipelines, MONAI's transform fits as it is.
    After the call :attr:`locations` and :attr:`intensities` hold what was applied.

    Args:
        prob: probability of applying the artefact.
        num_spikes: number of spikes.
        intensity_range: (low, high) range of the spike magnitude relative to the per-coil peak of ``|k|``.

    Example::

        spiked = RandKspaceSpike(prob=1.0, num_spikes=2, intensity_range=(0.2, 1.0)).set_random_state(0)(kspace)
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, prob: float = 0.1, num_spikes: int = 1, intensity_range: tuple[float, float] = (0.1, 1.0)):
        super().__init__(prob)
        if num_spikes < 1:
            raise ValueError(f"num_spikes must be >= 1, got {num_spikes}")
        self.num_spikes = num_spikes
        self.intensity_range = intensity_range
        self.locations = torch.zeros(0, 2, dtype=torch.long)
        self.intensities = torch.zeros(0)

    def randomize(self, size: tuple[int, int]) -> None:
        super().randomize(None)
        if self._do_transform:
            ys = self.R.randint(size[0], size=self.num_spikes)
            xs = self.R.randint(size[1], size=self.num_spikes)
            self.locations = torch.stack([torch.from_numpy(ys), torch.from_numpy(xs)], dim=1).long()
            self.intensities = torch.from_numpy(self.R.uniform(*self.intensity_range, size=self.num_spikes))

    def __call__(self, kspace: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        kspace = _tensor(kspace)
        check_kspace(kspace)
        if randomize:
            self.randomize(tuple(kspace.shape[-2:]))
        if not self._do_transform:
            return kspace
        return apply_kspace_spikes(kspace, self.locations, self.intensities)

"""k-space physics and MONAI transforms on complex k-space.

Functions: centred FFTs (:mod:`.fft`), coil sensitivities and combination (:mod:`.coils`), noise (:mod:`.noise`),
undersampling masks with fastMRI semantics (:mod:`.masks`), sensitivity estimation from the calibration lines
(:mod:`.sensitivity`), motion and spike artefacts (:mod:`.artefacts`), input checks (:mod:`.checks`).
Transforms: array versions in :mod:`.array`, dictionary versions (suffix ``d``) in :mod:`.dictionary`.
"""

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
from .artefacts import apply_kspace_spikes, apply_motion_lines
from .checks import check_kspace, check_mask
from .coils import rss, sensitivity_combine, sensitivity_expand, simulate_coil_sensitivities
from .dictionary import (
    ApplyMaskd,
    CoilCombined,
    EstimateSensitivitiesd,
    Fourierd,
    FromChannelsd,
    InverseFourierd,
    RandComplexNoised,
    RandKspaceSpiked,
    RandMotionLinesd,
    RandSimulateCoilsd,
    RandUndersampled,
    ToChannelsd,
    ZeroFilledd,
)
from .fft import channels_to_complex, complex_to_channels, fft2c, fftnc, ifft2c, ifftnc
from .masks import (
    MASK_TYPES,
    EquispacedMaskFractionFunc,
    EquiSpacedMaskFunc,
    MaskFunc,
    PoissonDiscMaskFunc,
    RadialMaskFunc,
    RandomMaskFunc,
    SampledMask,
    apply_mask,
    create_mask_func,
)
from .noise import add_complex_noise, noise_sigma_for_snr
from .sensitivity import calibration_region, estimate_sensitivities

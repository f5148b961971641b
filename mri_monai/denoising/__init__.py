"""Denoising: Rician noise models, the NLM baseline, dead-leaves training images, slice inference, metrics and figures.

Loading, checking and scaling transforms are shared: :mod:`mri_monai.data.transforms`.
"""

from .baselines import NonLocalMeansd, nlm_denoise
from .dead_leaves import RandDeadLeavesd  # not the function dead_leaves, which would hide the module
from .figures import SaveComparisonPNGd
from .inferers import MultiPlaneSliceInferer
from .metrics import denoising_scores, image_quality
from .noise import RandRicianNoise, RandRicianNoised, RicianNoised, estimate_noise_sigma, rician_noise

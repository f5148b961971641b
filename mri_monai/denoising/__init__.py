"""Denoising: Rician noise models, the NLM baseline, dead-leaves training images, slice inference and figures.

Loading, checking and scaling transforms are shared: :mod:`mri_monai.data.transforms`; the metrics (``psnr_box``,
``ssim_box``, the case score ``denoising_scores``): :mod:`mri_monai.metrics`.
"""

from .baselines import NonLocalMeansd, nlm_denoise
from .dead_leaves import RandDeadLeavesd  # not the function dead_leaves, which would hide the module
from .figures import SaveComparisonPNGd
from .inferers import MultiPlaneSliceInferer
from .noise import RandRicianNoise, RandRicianNoised, RicianNoised, estimate_noise_sigma, level_name, rician_noise

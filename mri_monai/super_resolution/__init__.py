"""Super-resolution: low-resolution images from high-resolution ones, interpolation onto the HR grid, intensity
transforms, the SRGAN content loss and metrics inside the foreground.

The PNG figures (also used by translation) are shared: :mod:`mri_monai.comparison_figures`.
"""

from .degrade import DegradeResolution, DegradeResolutiond, degrade_resolution
from .losses import GradientDifferenceLoss, SuperResolutionContentLoss
from .metrics import masked_psnr, masked_sharpness, masked_ssim, super_resolution_scores
from .transforms import (
    CopyGeometryd,
    EnsureVolumed,
    InterpolateToGrid,
    InterpolateToGridd,
    NormalizeToPercentiled,
    RestoreIntensityd,
)

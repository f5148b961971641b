"""Super-resolution: low-resolution images from high-resolution ones, interpolation onto the HR grid, the SRGAN
content loss. Input checks and intensity scaling: :mod:`mri_monai.data.transforms`.

The PNG figures (also used by translation) are shared: :mod:`mri_monai.comparison_figures`; the metrics inside the
foreground (``psnr_masked``, ``ssim_masked``, ``sharpness_masked``, the case score ``super_resolution_scores``):
:mod:`mri_monai.metrics`.
"""

from .degrade import DegradeResolution, DegradeResolutiond, degrade_resolution
from .losses import GradientDifferenceLoss, SuperResolutionContentLoss
from .transforms import CopyGeometryd, InterpolateToGrid, InterpolateToGridd

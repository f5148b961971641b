"""Super-resolution: low-resolution images from high-resolution ones, interpolation onto the HR grid, the SRGAN
content loss and metrics inside the foreground. Input checks and intensity scaling: :mod:`mri_monai.data.transforms`.

The PNG figures (also used by translation) are shared: :mod:`mri_monai.comparison_figures`.
"""

from .degrade import DegradeResolution, DegradeResolutiond, degrade_resolution
from .losses import GradientDifferenceLoss, SuperResolutionContentLoss
from .metrics import masked_psnr, masked_sharpness, masked_ssim, super_resolution_scores
from .transforms import CopyGeometryd, InterpolateToGrid, InterpolateToGridd

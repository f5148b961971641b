"""Brain tumour segmentation: multi-contrast reading, baselines, figures.

The BraTS region metrics (``brats_region_metrics``, the case score ``segmentation_scores``): :mod:`mri_monai.metrics`.
"""

from .baselines import ThresholdSegmentation, ThresholdSegmentationd
from .figures import (
    METHOD_NAMES,
    SaveSegmentationPNGd,
    SegmentationPNGHandler,
    hardest_case,
    segmentation_figure,
    write_case_figure,
)
from .readers import MultiContrastReader
from .transforms import InferWithNetworkd, with_reference

"""Brain tumour segmentation: multi-contrast reading, BraTS region metrics, baselines, figures."""

from .baselines import ThresholdSegmentation, ThresholdSegmentationd
from .figures import SaveSegmentationPNGd, SegmentationPNGHandler, segmentation_figure
from .metrics import REGIONS, brats_region_metrics, segmentation_scores
from .readers import MultiContrastReader
from .transforms import InferWithNetworkd, with_reference

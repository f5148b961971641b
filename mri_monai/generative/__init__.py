"""Generative-model helpers: translation and synthesis baselines, metrics, image pool, evaluation runs."""

from .baselines import GaussianSampler, InvertedHistogramMatching, MeanImageSampler
from .evaluation import TranslationEvaluation, load_state, write_metrics
from .metrics import (
    frechet_distance,
    ms_ssim_diversity,
    mutual_information,
    nearest_ncc,
    tissue_statistics,
    translation_metrics,
)
from .pool import ImagePool
from .translation import BidirectionalGenerator, SliceTranslator, check_volumes, unpaired_datalist

"""Generative-model helpers: baselines, two-sample test, image pool, translation and synthesis runs.

Their metrics (``translation_metrics``, ``nearest_ncc``, ``ms_ssim_diversity``, ``tissue_statistics``,
``frechet_distance``, ``mutual_information``): :mod:`mri_monai.metrics`.
"""

from .baselines import GaussianSampler, InvertedHistogramMatching, MeanImageSampler
from .evaluation import TranslationEvaluation
from .instance_noise import InstanceNoiseSchedule
from .losses import DiscriminatorLoss, GeneratorLoss, r1_penalty
from .pool import ImagePool
from .synthesis import (
    SampleWriter,
    SynthesisEvaluation,
    dcgan_init,
    load_axial_slices,
    seeded_latents,
    slice_items,
)
from .translation import (
    DIRECTIONS,
    BidirectionalGenerator,
    SliceTranslator,
    generator_direction,
    source_key,
    target_key,
    translation_cases,
    translation_titles,
    unpaired_datalist,
    unpaired_reference_images,
)
from .two_sample import c2st_classifier, classifier_two_sample_test

"""Generative-model helpers: baselines, metrics, two-sample test, image pool, translation and synthesis runs."""

from .baselines import GaussianSampler, InvertedHistogramMatching, MeanImageSampler
from .evaluation import TranslationEvaluation
from .instance_noise import InstanceNoiseSchedule
from .losses import DiscriminatorLoss, GeneratorLoss, r1_penalty
from .metrics import (
    frechet_distance,
    ms_ssim_diversity,
    mutual_information,
    nearest_ncc,
    tissue_statistics,
    translation_metrics,
)
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
    check_volumes,
    generator_direction,
    source_key,
    target_key,
    translation_cases,
    translation_titles,
    unpaired_datalist,
    unpaired_reference_images,
)
from .two_sample import c2st_classifier, classifier_two_sample_test

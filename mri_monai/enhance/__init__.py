"""Image enhancement.

Denoising (exported here): Rician noise models, the NLM baseline, loading, checking and scaling transforms,
slice inference, metrics and figures. Super-resolution: :mod:`.degrade` and the ``sr_*`` modules.
"""

from .baselines import NonLocalMeansd, nlm_denoise
from .figures import SaveComparisonPNGd
from .inferers import MultiPlaneSliceInferer
from .metrics import EnhancementMetricsSaver, image_quality
from .noise import RandRicianNoise, RandRicianNoised, RicianNoised, estimate_noise_sigma, rician_noise

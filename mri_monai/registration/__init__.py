"""Registration: Elastix through ITKElastix, learned registration on MONAI's VoxelMorph, and their comparison.

- :mod:`.elastix`: Elastix runner with rigid / affine / B-spline presets kept as parameter files;
- :mod:`.network`, :mod:`.losses`, :mod:`.instance_optimization`: VoxelMorph at reduced resolution, its training
  loss, and test-time optimisation of its field;
- :mod:`.data`, :mod:`.transforms`: registration pairs from a datalist, batch preparation, warping post-processing;
- :mod:`.pair`, :mod:`.methods`, :mod:`.compare`, :mod:`.report`, :mod:`.evaluation`: checked image pairs, the
  compared methods, tables and figures, the bundle's evaluation; the Dice / HD95 / Jacobian metrics
  (``registration_metrics``) are in :mod:`mri_monai.metrics`.
"""

from .compare import TISSUES, compare_pair, markdown_table, summarise, write_csv
from .data import (
    PAIR_MODES,
    PairDataset,
    PrepareRegistrationBatch,
    bundle_registration_pairs,
    pairs_of,
    registration_pairs,
    registration_subjects,
)
from .elastix import PRESETS, ElastixRegistration, ElastixResult, parameter_object, preset_path
from .evaluation import RegistrationEvaluation
from .instance_optimization import InstanceOptimization
from .losses import RegistrationLoss
from .methods import (
    METHODS,
    ElastixMethod,
    MethodResult,
    NetworkMethod,
    NoRegistration,
    load_bundle_network,
    make_methods,
)
from .network import LowResVoxelMorph
from .pair import RegistrationPair, grid_ddf, load_pair
from .report import SaveRegistrationPNGd, checkerboard, comparison_figure, pair_figure
from .transforms import CopyMetad, Warpd, WarpImage

"""Synthetic MNI152-derived subjects, MRI file formats and MONAI datalists."""

from .deformation import jacobian_determinant, random_deformation, warp
from .mni import MNI_NOTICE, TissueMaps, load_tissue_maps
from .subject import CONTRASTS, TISSUE_LABELS, SyntheticSubject, bias_field, make_subject
from .tumour import ED, ET, NCR, random_tumour

"""Synthetic MNI152-derived subjects, MRI file formats, loading and checking transforms and MONAI datalists."""

from .atomic import atomic_output, save_nifti
from .datalists import bundle_data_list, find_inputs, load_datalist_split
from .deformation import jacobian_determinant, random_deformation, warp
from .fastmri_h5 import FastMRIVolume, ismrmrd_header, read_fastmri_h5, write_fastmri_h5, write_submission_h5
from .mni import MNI_NOTICE, TissueMaps, load_tissue_maps
from .readers import DicomReader, FastMRIH5Reader, NiftiOrDicomReader, ValidatedNibabelReader
from .realistic_tumour import RealisticLesions, make_realistic_tumour_subject
from .subject import CONTRASTS, TISSUE_LABELS, SyntheticSubject, bias_field, make_subject
from .transforms import CheckImaged, ScaleByPercentiled, check_volumes
from .tumour import ED, ET, NCR, random_tumour

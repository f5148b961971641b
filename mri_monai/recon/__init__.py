"""Reconstruction: E2E VarNet, Deep Cascade CNN, data consistency, baselines and pipeline transforms.

fastMRI's metrics (``nmse``, ``psnr_fastmri``, ``ssim_fastmri``, the case score ``reconstruction_scores``):
:mod:`mri_monai.metrics`.
"""

from .baselines import compressed_sensing, zero_filled
from .cascade import CNNBlock, DeepCascadeCNN
from .data_consistency import DataConsistency, data_consistency
from .engine import KspaceBatch
from .evaluation import CompressedSensingd
from .inferer import KspaceSliceInferer
from .outputs import (
    CropToReconSized,
    RescaleOutputd,
    SaveComparisonFigured,
    SaveSubmissiond,
    ToVolumed,
    relative_output,
)
from .slice_dataset import FastMRISliceDataset, with_accelerations
from .transforms import LoadFastMRId, SeededComplexNoised, Undersampled, ZeroFilledScaled, mask_seed
from .unet import BlockMaxPool2d, FastMRIUNet, LeanBasicUNet, unet_features
from .varnet import BatchCoilSensitivityModel, E2EVarNet, UnitSensitivity, sampled_points

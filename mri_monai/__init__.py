"""mri-monai: MONAI extensions and bundles for deep learning across the MRI chain."""

__version__ = "0.1.0"

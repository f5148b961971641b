"""Networks MONAI lacks, named after their papers."""

from .multiscale_fusion import MultiScaleFusionBlock, MultiScaleFusionNet
from .resnet_generator import ResnetGenerator
from .skip_autoencoder import SkipAutoencoder
from .srgan import SRGANGenerator, upsample_linear
from .vox2vox import Vox2VoxGenerator

"""Training iterations MONAI lacks: conditional (pix2pix-style) and cycle-consistent GANs, as Ignite engines."""

from .checkpoint import latest_checkpoint
from .conditional_gan import ConditionalGanTrainer, concatenate_channels
from .cycle_gan import CycleGanTrainer
from .prepare import PrepareBatchPair, discriminator_logits

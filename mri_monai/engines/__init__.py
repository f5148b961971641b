"""Training iterations MONAI lacks (conditional and cycle-consistent GANs, as Ignite engines) and the small workflow
pieces bundle configs instantiate instead of ``$`` expressions (:mod:`.workflow`)."""

from .checkpoint import latest_checkpoint
from .conditional_gan import ConditionalGanTrainer, concatenate_channels
from .cycle_gan import CycleGanTrainer, LinearDecay
from .prepare import PrepareBatchPair, discriminator_logits
from .workflow import (
    EveryNIterations,
    attach_handlers,
    default_device,
    every_n_iterations,
    is_true,
    loss_items,
    progress_bars,
    resume_loader,
    threads_from_environment,
)

"""Process-group plumbing of the bundles' ``configs/multi_gpu_train.json`` (one process per GPU, ``torchrun``).

Every bundle's multi-GPU config is merged onto its ``train.json`` and calls these functions (as ``_target_``
components) instead of spelling out ``torch.distributed`` in ``$`` expressions::

    "device": {"_target_": "mri_monai.distributed.ddp_device"},
    "network": {"_target_": "mri_monai.distributed.ddp_wrap", "module": "@network_def", "device": "@device"},
    "train#dataloader#sampler": {"_target_": "DistributedSampler", "dataset": "@train#dataset"},
    "train#dataloader#shuffle": false,
    "train#trainer#train_handlers": {"_target_": "mri_monai.distributed.rank_zero_handlers",
                                     "handlers": "@train#handlers"},
    "+initialize": [{"_target_": "mri_monai.distributed.ddp_initialize", "seed": "@seed"}],
    "finalize": [{"_target_": "mri_monai.distributed.ddp_finalize"}]

The rules they implement: the device is ``cuda:<LOCAL_RANK>`` when CUDA is available, else the CPU; the backend is
``nccl`` on CUDA, else ``gloo``; rank ``r`` seeds with ``seed + r`` (each rank draws its own augmentations and
latents); every rank runs the handlers the ranks must agree on (learning-rate schedules, the sharded validation
whose metric is gathered, checkpoint loading) and rank 0 alone the others (logging, saving, progress bars).
MONAI's engines set the epoch of a ``DistributedSampler`` themselves (``monai.engines.Workflow``), so the configs
need no ``set_epoch`` handler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from monai.handlers import CheckpointLoader, LrScheduleHandler, ValidationHandler
from monai.utils import set_determinism
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "EVERY_RANK_HANDLERS",
    "ddp_backend",
    "ddp_device",
    "ddp_finalize",
    "ddp_initialize",
    "ddp_wrap",
    "get_rank",
    "is_rank_zero",
    "quiet_other_ranks",
    "rank_zero_handlers",
]

EVERY_RANK_HANDLERS: tuple[type, ...] = (LrScheduleHandler, ValidationHandler, CheckpointLoader)
"""Handlers every rank runs: the learning rate must change on every rank alike, the validation is sharded (each rank
evaluates its share and the metric is gathered, so all ranks must take part), and a resumed run loads the checkpoint
on every rank."""


def ddp_backend() -> str:
    """The ``torch.distributed`` backend: ``"nccl"`` when CUDA is available, else ``"gloo"``."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def ddp_device() -> torch.device:
    """The device of this process: ``cuda:<LOCAL_RANK>`` when CUDA is available, else the CPU.

    ``LOCAL_RANK`` is set by ``torchrun``; it defaults to 0 (one process on one machine).
    """
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    return torch.device("cpu")


def ddp_initialize(seed: int = 0, device: torch.device | str | None = None, backend: str | None = None) -> int:
    """Join the process group, select this rank's GPU and seed this rank.

    The process group is initialised from the environment ``torchrun`` sets (``MASTER_ADDR``, ``MASTER_PORT``,
    ``RANK``, ``WORLD_SIZE``) unless it is initialised already; then, on CUDA, ``torch.cuda.set_device(device)``;
    then ``monai.utils.set_determinism(seed=seed + rank)``.

    Args:
        seed: seed of rank 0; rank ``r`` uses ``seed + r``.
        device: this rank's device; defaults to :func:`ddp_device`. Used only when CUDA is available.
        backend: defaults to :func:`ddp_backend` (``nccl`` on CUDA, else ``gloo``).

    Returns:
        this process's rank.
    """
    if not dist.is_initialized():
        dist.init_process_group(backend=backend or ddp_backend())
    if torch.cuda.is_available():
        torch.cuda.set_device(ddp_device() if device is None else device)
    rank = dist.get_rank()
    set_determinism(seed=seed + rank)
    return rank


def ddp_wrap(module: torch.nn.Module, device: torch.device | str) -> DistributedDataParallel:
    """``module`` moved to ``device`` and wrapped in ``DistributedDataParallel``.

    Args:
        module: the network (its parameters are broadcast from rank 0 when it is wrapped).
        device: this rank's device (:func:`ddp_device`); a CUDA device becomes ``device_ids=[device]``, the CPU
            ``device_ids=None``.

    Returns:
        the wrapped network; ``.module`` is ``module``.
    """
    device = torch.device(device)
    return DistributedDataParallel(module.to(device), device_ids=[device] if device.type == "cuda" else None)


def get_rank() -> int:
    """This process's rank, 0 when ``torch.distributed`` is not initialised (a single process)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_rank_zero() -> bool:
    """Whether this process is rank 0 (also true in a single process)."""
    return get_rank() == 0


def rank_zero_handlers(handlers: Iterable[Any] | None, every_rank: Sequence[type] = EVERY_RANK_HANDLERS) -> list[Any]:
    """The handlers this rank runs: all of them on rank 0, those of an ``every_rank`` type on the other ranks.

    Args:
        handlers: MONAI/Ignite handlers (``None`` items and ``None`` itself are dropped).
        every_rank: handler types every rank runs; defaults to :data:`EVERY_RANK_HANDLERS`. ``[]`` keeps all
            handlers on rank 0 and none elsewhere.

    Returns:
        a new list, in the order of ``handlers``.

    Example::

        "train#trainer#train_handlers": {"_target_": "mri_monai.distributed.rank_zero_handlers",
                                         "handlers": "@train#handlers"}
    """
    kept = [h for h in handlers or [] if h is not None]
    if is_rank_zero():
        return kept
    return [h for h in kept if isinstance(h, tuple(every_rank))]


def quiet_other_ranks(
    *loggers: logging.Logger | str,
    level: int | str = logging.WARNING,
    rank_zero_level: int | str | None = None,
    names: Sequence[str] = (),
    engines: Iterable[Any] = (),
) -> None:
    """Set ``loggers`` to ``level`` on ranks other than 0, so that one rank reports; on rank 0 to ``rank_zero_level``.

    Args:
        loggers: loggers or logger names (``"ignite"`` covers every Ignite engine; an engine's ``.logger`` one
            engine).
        level: level on the other ranks.
        rank_zero_level: level on rank 0; ``None`` leaves rank 0's loggers as they are.
        names: more logger names, after ``loggers``.
        engines: Ignite engines whose ``.logger`` is set too, after ``names``.

    ``names`` and ``engines`` are the keywords a config component, which cannot pass positional arguments, uses:
    ``{"_target_": "mri_monai.distributed.quiet_other_ranks", "engines": ["@train#trainer"]}``.
    """
    chosen = level if not is_rank_zero() else rank_zero_level
    if chosen is None:
        return
    for logger in [*loggers, *names, *(engine.logger for engine in engines)]:
        (logging.getLogger(logger) if isinstance(logger, str) else logger).setLevel(chosen)


def ddp_finalize() -> None:
    """Wait for every rank (``barrier``), then destroy the process group; nothing when it is not initialised."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

"""Small named pieces the bundle configs instantiate with ``_target_`` instead of spelling Python in ``$`` strings.

A bundle config calls them as MONAI ``ConfigParser`` components, e.g.::

    "device": {"_target_": "mri_monai.engines.default_device"},
    "output_transform": {"_target_": "mri_monai.engines.loss_items", "_mode_": "callable"},
    "iteration_log": {"_target_": "mri_monai.engines.every_n_iterations", "n": "@log_every"},
    "run": [{"_target_": "mri_monai.engines.attach_handlers", "engine": "@train#trainer",
             "handlers": "@train#checkpoint_handlers"}, "$@train#trainer.run()"]

A component's references are resolved in the order of its keys, and building a network or a ``DataLoader`` draws
from the global random generator: keep the order the former expression had (``"engine"`` first above, as in
``$[h.attach(@train#trainer) for h in @train#checkpoint_handlers]``), or the initial weights change.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from ignite.engine import Engine
from ignite.handlers import ProgressBar
from monai.handlers import CheckpointLoader

from .checkpoint import latest_checkpoint

__all__ = [
    "EveryNIterations",
    "attach_handlers",
    "default_device",
    "every_n_iterations",
    "is_true",
    "loss_items",
    "progress_bars",
    "resume_loader",
    "threads_from_environment",
]


def default_device() -> torch.device:
    """``torch.device("cuda")`` when CUDA is available, else ``torch.device("cpu")`` (a bundle's ``device``)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def threads_from_environment() -> int:
    """Set PyTorch's intra-op threads to ``OMP_NUM_THREADS`` when it is set (else leave them); return the number.

    ``torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))``: a run started
    with ``OMP_NUM_THREADS=1`` (e.g. beside other jobs) then uses one thread.
    """
    threads = int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads()))
    torch.set_num_threads(threads)
    return threads


def is_true(value: Any) -> bool:
    """Whether a config flag is on: ``True``, ``1``, or the strings ``"true"``/``"1"`` (any case).

    ``--flag false`` on the ``monai.bundle run`` command line reaches the config as the string ``"false"``, which
    Python would take as true.
    """
    return str(value).lower() in ("true", "1")


def progress_bars(show: Any = True) -> list[ProgressBar]:
    """``[ignite.handlers.ProgressBar()]`` when ``show`` is on (:func:`is_true`), else ``[]``.

    Args:
        show: the bundle's ``show_progress`` flag (a bool, or a command-line string such as ``"false"``).
    """
    return [ProgressBar()] if is_true(show) else []


class EveryNIterations:
    """Event filter ``(engine, iteration) -> bool`` true every ``n``-th iteration (``iteration % n == 0``).

    For ``StatsHandler(iteration_log=...)``: log the losses every ``n`` iterations instead of every one.

    Args:
        n: the interval, >= 1.
    """

    def __init__(self, n: int) -> None:
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = int(n)

    def __call__(self, engine: Engine | None, iteration: int) -> bool:
        return iteration % self.n == 0

    def __repr__(self) -> str:
        return f"EveryNIterations({self.n})"


def every_n_iterations(n: int) -> EveryNIterations:
    """:class:`EveryNIterations` ``(n)``: a ``StatsHandler`` ``iteration_log`` filter logging every ``n`` iterations."""
    return EveryNIterations(n)


def loss_items(output: Mapping[str, Any]) -> dict[str, Any]:
    """The items of an engine's output whose key ends with ``"loss"`` (a ``StatsHandler`` ``output_transform``).

    Example: ``{"g_loss": 0.3, "d_loss": 0.2, "fakes": tensor}`` -> ``{"g_loss": 0.3, "d_loss": 0.2}``.
    """
    return {k: v for k, v in output.items() if k.endswith("loss")}


def attach_handlers(handlers: Iterable[Any] | None, engine: Engine) -> list[Any]:
    """Attach each handler (``handler.attach(engine)``) in order, skipping ``None`` (a disabled config component).

    For handlers a config cannot give the engine itself because they refer to it (a checkpoint of the trainer's
    state, an early stop attached to the evaluator that stops the trainer).

    Returns:
        the attached handlers.
    """
    attached = [h for h in handlers or [] if h is not None]
    for handler in attached:
        handler.attach(engine)
    return attached


def resume_loader(
    resume: Any,
    ckpt_dir: str | os.PathLike,
    load_dict: dict[str, Any],
    map_location: Any = None,
    prefix: str = "checkpoint",
) -> CheckpointLoader | None:
    """A ``CheckpointLoader`` of the latest full-state checkpoint in ``ckpt_dir`` when ``resume``, else ``None``.

    Args:
        resume: whether to resume (its truth value, as the configs' former ``"$not @resume"``).
        ckpt_dir: folder of the ``CheckpointSaver`` checkpoints.
        load_dict: objects to restore (network, optimisers, trainer...).
        map_location: as ``CheckpointLoader``.
        prefix: the saver's ``file_prefix`` (:func:`~mri_monai.engines.latest_checkpoint`).

    Raises:
        FileNotFoundError: ``resume`` and no checkpoint with this prefix in ``ckpt_dir``.
    """
    if not resume:
        return None
    return CheckpointLoader(
        load_path=latest_checkpoint(ckpt_dir, prefix), load_dict=load_dict, map_location=map_location
    )

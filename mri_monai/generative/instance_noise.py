"""Annealing of the instance noise of adversarial losses during training (an Ignite event handler)."""

from __future__ import annotations

from collections.abc import Sequence

from ignite.engine import Engine, Events

from .losses import DiscriminatorLoss, GeneratorLoss

__all__ = ["InstanceNoiseSchedule"]


class InstanceNoiseSchedule:
    """Lower the instance noise of adversarial losses linearly from ``start`` to ``end`` over a fraction of training.

    Constant instance noise stops the discriminator from winning on the exact background of real images, but it
    also hides fine texture from it, so the generator is free to leave noise in its images; annealing the noise to
    zero (Sønderby et al., ICLR 2017, https://arxiv.org/abs/1610.04490) lets the discriminator judge the texture at
    the end. The standard deviation at iteration ``i`` (1-based) of ``T = max_epochs * epoch_length`` is
    ``end + (start - end) * max(0, 1 - (i - 1) / (stop_fraction * T))``; it depends only on the iteration, so a
    resumed run continues the same schedule. ``start == end`` keeps the noise constant.

    Args:
        losses: the loss objects whose ``instance_noise`` is set (the generator's and the discriminator's).
        start: standard deviation at the first iteration, in image units.
        end: standard deviation from ``stop_fraction`` of training on.
        stop_fraction: fraction of training after which the noise is ``end``, in (0, 1].

    Example::

        schedule = InstanceNoiseSchedule([g_loss, d_loss], start=0.1, stop_fraction=0.75)
        schedule.attach(trainer)
    """

    def __init__(
        self,
        losses: Sequence[DiscriminatorLoss | GeneratorLoss],
        start: float,
        end: float = 0.0,
        stop_fraction: float = 0.75,
    ) -> None:
        if not (start >= 0 and end >= 0):
            raise ValueError(f"start and end must be standard deviations >= 0, got {start}, {end}")
        if not 0 < stop_fraction <= 1:
            raise ValueError(f"stop_fraction must be in (0, 1], got {stop_fraction}")
        self.losses = list(losses)
        self.start, self.end = float(start), float(end)
        self.stop_fraction = float(stop_fraction)

    def attach(self, engine: Engine) -> None:
        """Set the noise before every iteration of ``engine``."""
        engine.add_event_handler(Events.ITERATION_STARTED, self)

    def std(self, iteration: int, total: int) -> float:
        """Standard deviation for 1-based ``iteration`` of ``total``."""
        progress = (iteration - 1) / (self.stop_fraction * total)
        return self.end + (self.start - self.end) * max(0.0, 1.0 - progress)

    def __call__(self, engine: Engine) -> None:
        std = self.std(engine.state.iteration, engine.state.max_epochs * engine.state.epoch_length)
        for loss in self.losses:
            loss.instance_noise = std

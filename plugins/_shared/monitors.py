"""What several built-in monitors share: two monitor bases, the run's start and reading a metric.

Not plugins themselves (no ``name``): the monitors that watch the training loss of every
optimizer step derive from :class:`StepLossMonitor`, those that judge one validation
metric of each epoch from :class:`MetricMonitor`; a plugin that only reads a metric uses
:func:`finite_metric`; those that judge the loss relative to where the run began keep a
:class:`RunStart`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.core.monitoring import StepSeries
from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    import torch
    from pydantic import BaseModel

    from harness.core.state import TrainState


def finite_metric(metrics: dict[str, Any], name: str) -> float | None:
    """The metric ``name`` of an epoch's record when it is a number and not NaN, else None
    (a workload that does not report it, or an epoch where it is undefined)."""
    value = metrics.get(name)
    if not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return value


class RunStart:
    """The loss at the start of a run, fixed once: ratios to it compare a run with itself,
    whatever its loss scale."""

    def __init__(self, steps: int = 1) -> None:
        self.steps = steps  # how many of the first finite values make the start
        self.value: float | None = None

    def fix(self, values: Sequence[float]) -> bool:
        """Fix the start at the mean of the first ``steps`` finite ``values`` (one epoch's losses)
        unless it is fixed or none is finite; True when this call fixed it."""
        if self.value is not None:
            return False
        head = [v for v in values if math.isfinite(v)][: self.steps]
        return bool(head) and self.fix_at(sum(head) / len(head))

    def fix_at(self, value: float) -> bool:
        """Fix the start at ``value`` (a start measured otherwise) unless it is fixed; True when
        this call fixed it."""
        if self.value is not None:
            return False
        self.value = value
        return True


class MetricMonitor(Plugin):
    """A monitor of one validation metric (``params.metric``) of every epoch's record.

    A finding of its one kind (``finding_kinds[0]``) whenever :meth:`alarm` explains
    what is wrong with the value; epochs where the metric is missing or NaN are skipped.
    """

    kind = "monitor"
    params: Any  # the subclass's own Params, with a ``metric`` field

    def alarm(self, state: TrainState, value: float) -> str | None:
        """The finding's message when ``value`` is alarming at this epoch, else None."""
        raise NotImplementedError

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        value = finite_metric(metrics, self.params.metric)
        message = None if value is None else self.alarm(state, value)
        if message is not None and value is not None:
            state.add_finding(self.finding_kinds[0], self.name, message, value=float(value))


class StepLossMonitor(Plugin):
    """A monitor of every optimizer step's training loss, read without a per-step host sync.

    ``on_step`` buffers the loss tensor in ``self.series``; :meth:`check` drains it and
    judges the steps, at every epoch's end and once more at the run's end (the steps of an
    epoch that diverged before its end).
    """

    kind = "monitor"

    def __init__(self, params: BaseModel | None = None) -> None:
        super().__init__(params)
        self.series = StepSeries()

    @hookimpl
    def on_step(self, state: TrainState, loss: torch.Tensor) -> None:
        self.series.add(state.step, loss)

    def check(self, state: TrainState) -> None:
        """Drain ``self.series`` and record what its steps show."""
        raise NotImplementedError

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        # ``metrics`` (the epoch's record) is named, as the hookspec names it, so that a subclass
        # that also reads it overrides this hook with the same signature
        self.check(state)

    @hookimpl
    def on_train_end(self, state: TrainState) -> None:
        self.check(state)

"""Loss-explosion monitor: records ``loss_explosion`` when a step's loss is huge or grew 10x.

Pathology: a distillation loss on mismatched scales (teacher [-1190, +8] vs student
[-2, +4]) is in the hundreds or more, or jumps from ~4 to 500+ when a batch holds a
teacher outlier.
Signal: a step's training loss above ``max_loss`` (the report: 100), or above
``growth`` (10) times the loss at the start of the run (the mean of the first
``start_steps`` steps; the ratio test applies only when that start is positive).
Fix: none; this monitor only observes. Losses are buffered as tensors and checked
once per epoch (no per-step host sync); at most one finding per epoch, naming the first
offending step and how many steps exploded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.findings import FindingKind
from harness.plugins._shared.causes import (
    GRADIENT_SPIKES,
    LOSS_TERM_ON_ANOTHER_SCALE,
    LR_TOO_HIGH,
    NO_WARMUP,
    SUMMED_LOSS,
    UNNORMALISED_INPUTS,
)
from harness.plugins._shared.monitors import RunStart, StepLossMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


def first_explosion(
    losses: list[float], start: float | None, max_loss: float | None, growth: float | None
) -> tuple[int | None, int]:
    """``(index of the first exploded loss or None, how many exploded)``; NaN never counts."""
    first, count = None, 0
    for i, loss in enumerate(losses):
        if math.isnan(loss):
            continue
        exploded = (max_loss is not None and loss > max_loss) or (
            growth is not None and start is not None and start > 0 and loss > growth * start
        )
        if exploded:
            count += 1
            first = i if first is None else first
    return first, count


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_loss: float | None = Field(100.0, description="a step loss above this explodes (None: off)")
    growth: float | None = Field(10.0, gt=1, description="a step loss above growth x start explodes (None: off)")
    start_steps: PositiveInt = Field(1, description="steps whose mean loss is the start")


LOSS_EXPLOSION_KIND = FindingKind(
    "loss_explosion",
    "the training loss jumped far above where the run started",
    causes=(LR_TOO_HIGH, UNNORMALISED_INPUTS, SUMMED_LOSS, GRADIENT_SPIKES, NO_WARMUP, LOSS_TERM_ON_ANOTHER_SCALE),
    site="optimizer",
    lr_type=True,
    signals=("loss",),
    roles=frozenset(("overshoot",)),
)


class LossExplosion(StepLossMonitor):
    name = "loss_explosion"
    #: a script's loss scale is its own (a summed reconstruction loss starts above 1000): under
    #: ``harness watch`` only the rules relative to the run's own start judge
    watch_params = {"max_loss": None}
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (LOSS_EXPLOSION_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.start = RunStart(self.params.start_steps)

    def check(self, state: TrainState) -> None:
        steps, losses = self.series.drain()
        if not steps:
            return
        p = self.params
        self.start.fix(losses)  # the first check with a finite loss fixes the start
        first, count = first_explosion(losses, self.start.value, p.max_loss, p.growth)
        if first is None:
            return
        value = losses[first]
        why = (
            f"> {p.max_loss:g}"
            if p.max_loss is not None and value > p.max_loss
            else f"> {p.growth:g} x start {self.start.value:.4g}"
        )
        state.add_finding(
            "loss_explosion",
            self.name,
            f"step {steps[first]} loss {value:.4g} {why} ({count} of {len(steps)} steps this epoch)",
            step=steps[first],
            value=value,
        )

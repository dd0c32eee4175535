"""Loss-oscillation monitor: records ``loss_oscillation`` when the training loss climbs back up.

Pathology: a learning rate far too high (or gradients that are never zeroed): every step
overshoots, so instead of falling the loss jumps around and climbs back above values it
had already reached.
Signal: the run's training loss averaged over windows of steps (``windows_per_epoch``
(4) per epoch, at least ``min_window`` (4) steps each); a window whose mean is above the
lowest earlier window mean by at least ``rise`` (0.3) times the first window's mean. The
rise is measured in units of the run's own starting loss, so it holds for any loss
scale, and a loss converging towards 0 (whose relative wiggles are large but tiny in
absolute terms) does not trigger it: healthy runs of ``benchmarks/detectors.py`` rise at
most 0.13 of their start, an LR 100x too high 0.5 to 14.
Fix: none; this monitor only observes (``lr_scale``, a warmup, ``grad_clip``). Step
losses are buffered as tensors and read once per epoch; at most one finding per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.findings import FindingKind
from harness.plugins._shared.causes import GRADIENT_SPIKES, LR_TOO_HIGH, NO_WARMUP, UNNORMALISED_INPUTS
from harness.plugins._shared.monitors import RunStart, StepLossMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rise: float = Field(0.3, gt=0, description="a window this share of the start loss above the best earlier one")
    windows_per_epoch: PositiveInt = Field(4, description="loss windows per epoch")
    min_window: PositiveInt = Field(4, description="steps per window at least")


def windows(steps: list[int], losses: list[float], count: int, minimum: int) -> list[tuple[int, float]]:
    """``(last step, mean loss)`` of consecutive windows over an epoch (non-finite losses left out);
    the last window takes the remainder."""
    size = max(minimum, len(losses) // count)
    out: list[tuple[int, float]] = []
    for start in range(0, len(losses), size):
        if out and len(losses) - start < size:  # a short tail joins the window before it
            break
        end = start + size if len(losses) - (start + size) >= size else len(losses)
        chunk = [v for v in losses[start:end] if math.isfinite(v)]
        if chunk:
            out.append((steps[end - 1], sum(chunk) / len(chunk)))
    return out


LOSS_OSCILLATION_KIND = FindingKind(
    "loss_oscillation",
    "the training loss swings up and down from step to step instead of falling",
    causes=(LR_TOO_HIGH, UNNORMALISED_INPUTS, GRADIENT_SPIKES, NO_WARMUP),
    lr_type=True,
    signals=("loss", "loss_trend"),
    roles=frozenset(("overshoot",)),
)


class LossOscillation(StepLossMonitor):
    name = "loss_oscillation"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (LOSS_OSCILLATION_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.start = RunStart()  # the first window's mean, not the first steps'
        self.best: float | None = None

    def check(self, state: TrainState) -> None:
        steps, losses = self.series.drain()
        worst: tuple[float, int, float, float] | None = None
        for step, mean in windows(steps, losses, self.params.windows_per_epoch, self.params.min_window):
            if self.start.fix_at(mean):
                self.best = mean
                continue
            assert self.start.value is not None and self.best is not None
            if self.start.value > 0:
                rise = (mean - self.best) / self.start.value
                if rise >= self.params.rise and (worst is None or rise > worst[0]):
                    worst = (rise, step, mean, self.best)
            self.best = min(self.best, mean)
        if worst is not None:
            rise, step, mean, best = worst
            state.add_finding(
                "loss_oscillation",
                self.name,
                f"the training loss climbed back to {mean:.4g} (window ending at step {step}) from {best:.4g}: "
                f"{rise:.2f} x the start loss {self.start.value:.4g} above its best so far",
                step=step,
                value=rise,
            )

"""Warmup then a floored cosine LR schedule (LambdaLR), stepped per optimizer step.

Pathology: no warmup makes early distillation updates unstable, and a plain cosine
decays the LR to ~0 before the student converged ("too aggressive in stage 2").
Signal: the loss spikes in the first steps; late epochs stop improving as LR -> 0.
Fix: the report's ``_get_lr_schedule``: linear ramp over ``warmup_epochs`` (0.5-1.0
epochs), then ``max(floor, 0.5 * (1 + cos(pi * progress)))`` with ``floor = 0.1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.schedules import warmup_cosine_factor

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warmup_epochs: float = Field(0.5, ge=0, description="linear warmup length in epochs (report: 0.5 / 1.0)")
    floor: float = Field(0.1, ge=0, le=1, description="the cosine never goes below floor x base LR")


class WarmupCosine(Plugin):
    name = "warmup_cosine"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("loss_explosion", "loss_oscillation", "lr_zero", "schedule_mismatch")

    @hookimpl
    def make_scheduler(self, state: TrainState) -> LRScheduler:
        from torch.optim.lr_scheduler import LambdaLR

        hp = state.hparams
        warmup = round(self.params.warmup_epochs * hp.optimizer_steps_per_epoch)
        total, floor = hp.total_steps, self.params.floor
        return LambdaLR(state.optimizer, lambda step: warmup_cosine_factor(step, warmup, total, floor))

    @hookimpl
    def on_step(self, state: TrainState) -> None:
        assert state.scheduler is not None, "this plugin's make_scheduler built it (one scheduler slot)"
        state.scheduler.step()

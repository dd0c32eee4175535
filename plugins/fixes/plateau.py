"""ReduceLROnPlateau: halve the LR when a validation metric stops improving.

Pathology: a fixed schedule does not adapt to the run's health; an LR that is too
high for the late phase keeps the metric oscillating.
Signal: validation AUC flat or oscillating for several epochs.
Fix: the report's stage-1 scheduler: ``ReduceLROnPlateau(mode='max', factor=0.5,
patience=5)`` on the validation AUC, stepped once per epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.monitors import finite_metric

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = Field("auc", description="validation metric watched")
    mode: Literal["max", "min"] = "max"
    factor: float = Field(0.5, gt=0, lt=1, description="LR multiplier on a plateau")
    patience: NonNegativeInt = Field(5, description="epochs without improvement before reducing")
    min_lr: float = Field(0.0, ge=0)


class Plateau(Plugin):
    name = "plateau"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    @hookimpl
    def make_scheduler(self, state: TrainState) -> LRScheduler:
        from torch.optim.lr_scheduler import ReduceLROnPlateau

        p = self.params
        return ReduceLROnPlateau(state.optimizer, mode=p.mode, factor=p.factor, patience=p.patience, min_lr=p.min_lr)

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        value = finite_metric(metrics, self.params.metric)
        if value is not None:
            assert state.scheduler is not None, "this plugin's make_scheduler built it (one scheduler slot)"
            state.scheduler.step(value)

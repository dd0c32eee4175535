"""No-signal monitor: records ``no_signal`` when validation AUC is still <= 0.5 after epoch 2.

Pathology: the model ranks positives no better than chance (distillation dominates the
task loss, or the outputs collapsed), although the loss may be falling.
Signal: validation ``auc`` <= ``max_auc`` (0.5) at an epoch after ``after_epoch`` (2).
Fix: none; this monitor only observes (the report: raise ``alpha_task``). Workloads
without the metric are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from harness.plugins._shared.monitors import MetricMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_auc: float = Field(0.5, ge=0, le=1, description="no signal when the metric is at or below this")
    after_epoch: NonNegativeInt = Field(2, description="check only epochs after this one")
    metric: str = Field("auc", description="validation metric checked")


class NoSignal(MetricMonitor):
    name = "no_signal"
    Params = Params
    finding_kinds = ("no_signal",)

    def alarm(self, state: TrainState, auc: float) -> str | None:
        if state.epoch > self.params.after_epoch and auc <= self.params.max_auc:
            return f"{self.params.metric} {auc:.3f} <= {self.params.max_auc:g} at epoch {state.epoch}"
        return None

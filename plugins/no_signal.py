"""No-signal monitor: records ``no_signal`` when validation AUC is still <= 0.5 after epoch 2.

Pathology: the model ranks positives no better than chance (distillation dominates the
task loss, or the outputs collapsed), although the loss may be falling.
Signal: validation ``auc`` <= ``max_auc`` (0.5) at an epoch after ``after_epoch`` (2).
Fix: none; this monitor only observes (the report: raise ``alpha_task``). Workloads
without the metric are skipped.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from harness.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_auc: float = Field(0.5, ge=0, le=1, description="no signal when the metric is at or below this")
    after_epoch: NonNegativeInt = Field(2, description="check only epochs after this one")
    metric: str = Field("auc", description="validation metric checked")


class NoSignal(Plugin):
    name = "no_signal"
    kind = "monitor"
    Params = Params
    finding_kinds = ("no_signal",)

    @hookimpl
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        if state.epoch <= self.params.after_epoch:
            return
        value = metrics.get(self.params.metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return
        if value <= self.params.max_auc:
            state.add_finding(
                "no_signal",
                self.name,
                f"{self.params.metric} {value:.3f} <= {self.params.max_auc:g} at epoch {state.epoch}",
                value=float(value),
            )

"""Mode-collapse monitor: records ``mode_collapse`` when the student's outputs stop varying.

Pathology: the student emits (nearly) the same logit for every patch of every image:
a constant minimises the (mis-scaled) loss, or a saturated tanh pins it to a bound.
Signal: the validation std of the outputs (the workload's ``output_std``: every patch
logit of the patch_distillation workload) below ``min_std`` (the report: 1e-4).
Fix: none; this monitor only observes (see ``scale_matching`` and ``variance_penalty``).
Workloads that report no ``output_std`` are skipped.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_std: float = Field(1e-4, ge=0, description="collapse when the output std is below this")
    metric: str = Field("output_std", description="validation metric holding the output std")


class ModeCollapse(Plugin):
    name = "mode_collapse"
    kind = "monitor"
    Params = Params
    finding_kinds = ("mode_collapse",)

    @hookimpl
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        std = metrics.get(self.params.metric)
        if not isinstance(std, (int, float)) or math.isnan(std):
            return
        if std < self.params.min_std:
            state.add_finding(
                "mode_collapse",
                self.name,
                f"{self.params.metric} {std:.3g} < {self.params.min_std:g}: outputs (nearly) constant",
                value=float(std),
            )

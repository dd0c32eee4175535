"""Mode-collapse monitor: records ``mode_collapse`` when the student's outputs stop varying.

Pathology: the student emits (nearly) the same logit for every patch of every image:
a constant minimises the (mis-scaled) loss, or a saturated tanh pins it to a bound.
Signal: the validation std of the outputs (the workload's ``output_std``: every patch
logit of the patch_distillation workload) below ``min_std`` (the report: 1e-4).
Fix: none; this monitor only observes (see ``scale_matching`` and ``variance_penalty``).
Workloads that report no ``output_std`` are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.plugins._shared.monitors import MetricMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_std: float = Field(1e-4, ge=0, description="collapse when the output std is below this")
    metric: str = Field("output_std", description="validation metric holding the output std")


class ModeCollapse(MetricMonitor):
    name = "mode_collapse"
    Params = Params
    finding_kinds = ("mode_collapse",)

    def alarm(self, state: TrainState, std: float) -> str | None:
        if std < self.params.min_std:
            return f"{self.params.metric} {std:.3g} < {self.params.min_std:g}: outputs (nearly) constant"
        return None

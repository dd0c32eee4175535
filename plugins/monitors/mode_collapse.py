"""Mode-collapse monitor: records ``mode_collapse`` when a model's outputs stop varying.

Pathology: the model emits (nearly) the same output for every input. A distillation
student on a mis-scaled loss emits one logit for every patch (a constant minimises the
loss, or a saturated tanh pins it to a bound); a regression whose loss broadcasts
``(N, 1)`` predictions against ``(N,)`` targets predicts the mean target for every input.
Signal: the validation std of the outputs (the workload's ``output_std``: every patch
logit of the patch_distillation workload) below ``min_std`` (the report: 1e-4); for a
regression (``pred_std`` and ``target_std`` in its metrics), predictions whose std is
below ``min_std_ratio`` (20%) of the targets' std: the model explains almost none of
their variation, judged against the targets themselves, not a fixed number.
Fix: none; this monitor only observes (see ``scale_matching`` and ``variance_penalty``).
Workloads that report neither are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.evidence import regression_collapse, seen
from harness.plugins._shared.monitors import finite_metric

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_std: float = Field(1e-4, ge=0, description="collapse when the output std is below this")
    metric: str = Field("output_std", description="validation metric holding the output std")
    min_std_ratio: float = Field(
        0.2, ge=0, lt=1, description="a regression: collapse when pred_std is below this share of target_std"
    )


MODE_COLLAPSE_KIND = FindingKind(
    "mode_collapse",
    "the outputs barely vary across inputs: the model answers a constant",
    causes=(
        Cause(
            "a loss on another scale than the outputs",
            "a distillation target 100x larger than the student can emit: a constant minimises the loss",
            "bring the teacher's logits to the student's scale (or use KL with a temperature)",
            (Cure("scale_matching"),),
            seen("saturation", "loss_explosion"),
        ),
        Cause(
            "a regression loss broadcast (N, 1) against (N,)",
            "MSELoss(model(x), y) with outputs (N, 1) and targets (N,) pairs every prediction with every "
            "target: the mean target minimises it",
            "give the loss matching shapes: model(x).squeeze(-1), or y.unsqueeze(-1)",
            (),
            regression_collapse,
        ),
        Cause(
            "nothing keeps the outputs apart",
            "a constant output minimises the loss, and no term rewards outputs that vary",
            "add a penalty on low output variance, or train with SGD + Nesterov momentum instead of plain Adam",
            (Cure("variance_penalty"), Cure("sgd_nesterov")),
        ),
    ),
    signals=("predictions",),
)


class ModeCollapse(Plugin):
    name = "mode_collapse"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (MODE_COLLAPSE_KIND,)

    def alarm(self, metrics: dict[str, Any]) -> tuple[str, float] | None:
        p = self.params
        std = finite_metric(metrics, p.metric)
        if std is not None and std < p.min_std:
            return f"{p.metric} {std:.3g} < {p.min_std:g}: outputs (nearly) constant", std
        predicted, target = finite_metric(metrics, "pred_std"), finite_metric(metrics, "target_std")
        if predicted is not None and target and predicted < p.min_std_ratio * target:
            return (
                f"predictions vary {predicted / target:.1%} as much as the targets (pred_std {predicted:.3g}, "
                f"target_std {target:.3g}): (nearly) the same prediction for every input",
                predicted,
            )
        return None

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        found = self.alarm(metrics)
        if found is not None:
            state.add_finding("mode_collapse", self.name, found[0], value=float(found[1]))

"""Non-finite monitor: records ``nan`` when a loss, a weight or a validation loss is NaN/inf.

Pathology: an overflow (exploding loss, fp16, a division by a collapsed std) turns the
loss or the weights into NaN/inf; everything after is meaningless.
Signal: a non-finite training loss at some step (buffered, checked once per epoch and at
the end of a run that diverged), non-finite model parameters after an epoch, or a
non-finite value of one of ``metrics`` (``val_loss``).
Fix: none; this monitor only observes. (The loop itself ends a run whose loss is
non-finite with status ``diverged``; this records where and what.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.diagnosis import Cause
from harness.core.findings import FindingKind
from harness.core.plugin import hookimpl
from harness.plugins._shared.causes import GRADIENT_SPIKES, LR_TOO_HIGH, UNNORMALISED_INPUTS
from harness.plugins._shared.evidence import seen
from harness.plugins._shared.monitors import StepLossMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check_parameters: bool = Field(True, description="also check the weights once per epoch")
    metrics: list[str] = Field(default_factory=lambda: ["val_loss"], description="validation metrics checked")


NAN_KIND = FindingKind(
    "nan",
    "a loss that is NaN or infinite: the run diverged",
    causes=(
        LR_TOO_HIGH,
        Cause(
            "non-finite values in the data",
            "a NaN or inf feature turns the loss into NaN at the first batch that holds it",
            "fill or drop the missing values before building the dataset",
            (),
            seen("data_non_finite"),
        ),
        UNNORMALISED_INPUTS,
        GRADIENT_SPIKES,
    ),
    site="optimizer",
    lr_type=True,
    signals=("loss",),
    roles=frozenset(("overshoot",)),
)


class NonFinite(StepLossMonitor):
    name = "non_finite"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (NAN_KIND,)

    def check(self, state: TrainState) -> None:
        """The first non-finite step loss of the steps buffered (and how many there were)."""
        steps, losses = self.series.drain()
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        if bad:
            i = bad[0]
            state.add_finding(
                "nan",
                self.name,
                f"step {steps[i]} loss is {losses[i]} ({len(bad)} non-finite steps)",
                step=steps[i],
                value=losses[i],
            )

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.check(state)
        for name in self.params.metrics:
            value = metrics.get(name)
            if isinstance(value, float) and not math.isfinite(value):
                state.add_finding("nan", self.name, f"validation {name} is {value}", value=value)
        if self.params.check_parameters:
            import torch

            params = [p.detach() for p in state.model.parameters()]
            if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
                bad = [n for n, p in state.model.named_parameters() if not bool(torch.isfinite(p).all())]
                state.add_finding("nan", self.name, f"non-finite weights in {len(bad)} tensors, e.g. {bad[0]}")

"""Probability-output monitor: records ``probability_outputs`` when the loss is fed probabilities.

Pathology: a softmax (or sigmoid) applied before a loss that expects logits
(``CrossEntropyLoss``, ``BCEWithLogitsLoss``): the loss applies its own ``log_softmax``
on top, cannot go below a floor far above 0, and its gradient is squashed.
Signal: in every checked training batch of an epoch (its first ``sample_batches``, 8), the
classifier's outputs (the workload's class logits: a tensor, or ``.logits``) lie in [0, 1]
and, with two or more classes, each row sums to 1 (within ``tolerance``). Raw logits never
do that batch after batch.
A workload that is not a classifier (its own ``metrics``: a regression, a distillation
student) is not judged.
Fix: none; this monitor only observes (give the loss the raw logits). One boolean per
batch stays on the device; they are read once per epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.evidence import seen
from harness.plugins._shared.model_parts import class_logits

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tolerance: float = Field(1e-2, gt=0, description="how far a row's sum may be from 1")
    sample_batches: PositiveInt = Field(8, description="the first N training batches of each epoch are checked")


def looks_like_probabilities(logits: Any, tolerance: float) -> Any:
    """A 0-d bool tensor: every value in [0, 1] and (two or more classes) every row summing to 1."""
    values = logits.detach().float()
    ok = ((values >= 0) & (values <= 1)).all()
    if values.dim() >= 2 and values.shape[-1] >= 2:
        ok = ok & ((values.sum(dim=-1) - 1).abs() <= tolerance).all()
    return ok


PROBABILITY_OUTPUTS_KIND = FindingKind(
    "probability_outputs",
    "a loss that expects logits (or log-probabilities) is given probabilities",
    causes=(
        Cause(
            "softmax (or sigmoid) before a loss that applies it",
            "CrossEntropyLoss applies log_softmax itself (BCEWithLogitsLoss a sigmoid): given probabilities, "
            "its gradient is squashed and the loss cannot fall below a floor",
            "remove the softmax/sigmoid at the end of the model and give the loss the raw logits; "
            "apply softmax only where probabilities are needed (evaluation, serving)",
            (),
            seen("probability_outputs"),
        ),
    ),
    site="probabilities",
    signals=("predictions",),
    roles=frozenset(("stall", "structural")),
)


class ProbabilityOutputs(Plugin):
    name = "probability_outputs"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (PROBABILITY_OUTPUTS_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.flags: list[Any] = []
        self.batches = 0

    @hookimpl
    def on_batch_end(self, state: TrainState, outputs: Any) -> None:
        self.batches += 1
        if self.batches > self.params.sample_batches:
            return
        logits = class_logits(state.workload, outputs)
        if logits is not None and logits.numel():
            self.flags.append(looks_like_probabilities(logits, self.params.tolerance))

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        import torch

        flags, self.flags, self.batches = self.flags, [], 0
        if flags and bool(torch.stack(flags).all()):
            state.add_finding(
                "probability_outputs",
                self.name,
                f"in all {len(flags)} checked training batches of epoch {state.epoch} the outputs the loss got were "
                "probabilities (in [0, 1], rows summing to 1), not logits: a softmax before CrossEntropyLoss?",
                value=1.0,
            )

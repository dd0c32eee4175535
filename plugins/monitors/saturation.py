"""Saturation monitor: records ``saturation`` when logits exceed +-100.

Pathology: logits beyond +-100 put a sigmoid exactly at 0 or 1 (zero gradient) and
overflow exp-based losses; the incident's teacher reached -1190.
Signal: max |logit| above ``max_abs`` (100) in (a) the training batches' tensors named in
``batch_keys`` (default: ``teacher_logits``, as the loss consumed them: read in
``on_batch_end``, after every plugin's ``on_batch`` change such as ``logit_norm``'s) and
(b) the validation metrics
named in ``metrics`` (default: the model's own ``logit_absmax``). Keys and metrics a
workload does not have are skipped.
Fix: none; this monitor only observes (see ``logit_norm`` and ``scale_matching``). Batch
maxima are buffered as tensors and read once per epoch; at most one finding per epoch,
naming every saturated source.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.evidence import seen

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_abs: float = Field(100.0, gt=0, description="saturated when |logit| exceeds this")
    batch_keys: list[str] = Field(
        default_factory=lambda: ["teacher_logits"], description="training-batch tensors checked"
    )
    metrics: list[str] = Field(
        default_factory=lambda: ["logit_absmax"], description="validation metrics holding a max |logit|"
    )


SATURATION_KIND = FindingKind(
    "saturation",
    "logits so large that the softmax saturates and its gradients vanish",
    causes=(
        Cause(
            "outputs pinned to a bounded activation's limits",
            "a tanh/sigmoid output layer driven to its bounds by targets or a loss on another scale",
            "match the scales of the loss's inputs (e.g. standardise the targets or teacher logits)",
            (Cure("scale_matching"), Cure("logit_norm"), Cure("input_standardize")),
            seen("saturation"),
        ),
    ),
    signals=("predictions",),
)


class Saturation(Plugin):
    name = "saturation"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (SATURATION_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.batch_max: dict[str, list[Any]] = {}

    @hookimpl
    def on_batch_end(self, batch: dict[str, Any]) -> None:
        for key in self.params.batch_keys:
            value = batch.get(key)
            if value is not None and value.is_floating_point():
                self.batch_max.setdefault(key, []).append(value.detach().abs().amax())

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        import torch

        over: dict[str, float] = {}
        for key, maxima in self.batch_max.items():
            value = float(torch.stack(maxima).amax())
            if value > self.params.max_abs:
                over[f"batch {key}"] = value
        self.batch_max = {}
        for name in self.params.metrics:
            reported = metrics.get(name)
            if isinstance(reported, (int, float)) and not math.isnan(reported) and abs(reported) > self.params.max_abs:
                over[name] = float(reported)
        if over:
            worst = max(over.values(), key=abs)
            detail = ", ".join(f"{k}={v:.4g}" for k, v in over.items())
            state.add_finding("saturation", self.name, f"|logit| > {self.params.max_abs:g}: {detail}", value=worst)

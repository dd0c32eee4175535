"""No-signal monitor: records ``no_signal`` when validation AUC is still <= 0.5 after epoch 2, or undefined.

Pathology: the model ranks positives no better than chance (distillation dominates the
task loss, or the outputs collapsed), although the loss may be falling.
Signal: validation ``auc`` <= ``max_auc`` (0.5) at an epoch after ``after_epoch`` (2).
When the metric is reported but NaN (undefined), the monitor cannot judge and says why,
once per run (a ``no_signal`` finding whose message gives the reason): a class absent
from the validation labels (read once, at the start of training, from the validation
loader's data: "AUC undefined: class 3 absent from validation"), non-finite validation
logits (``val_loss`` not finite), or, when neither is known, that it is undefined.
Fix: none; this monitor only observes (the report: raise ``alpha_task``; a validation
split that holds every class). Workloads without the metric are skipped.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.metrics import class_counts
from harness.core.plugin import hookimpl
from harness.plugins._shared.causes import LABELS_WITHOUT_SIGNAL, VALIDATION_PREPARED_DIFFERENTLY
from harness.plugins._shared.data import validation_labels
from harness.plugins._shared.evidence import seen
from harness.plugins._shared.model_parts import is_classifier
from harness.plugins._shared.monitors import MetricMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_auc: float = Field(0.5, ge=0, le=1, description="no signal when the metric is at or below this")
    after_epoch: NonNegativeInt = Field(2, description="check only epochs after this one")
    metric: str = Field("auc", description="validation metric checked")


def classes_of(metrics: dict[str, Any]) -> int:
    """The number of classes a classifier's record shows (its ``pred_count_<k>``), 0 when none."""
    return len(class_counts(metrics))


NO_SIGNAL_KIND = FindingKind(
    "no_signal",
    "the validation AUC stays at chance: the scores carry no signal",
    causes=(
        LABELS_WITHOUT_SIGNAL,
        VALIDATION_PREPARED_DIFFERENTLY,
        Cause(
            "a class missing from validation",
            "AUC (and per-class metrics) are undefined when a class never occurs in the validation labels",
            "stratify the train/validation split by label",
            (),
            seen("data_missing_class"),
        ),
        Cause(
            "a distillation term that drowns the task loss",
            "a teacher term on a larger scale (or weighted too high) dominates the gradient: the task is not learnt",
            "bring the teacher to the student's scale and weight the task loss more (e.g. 0.7 task, 0.3 distill)",
            (Cure("loss_weights"), Cure("scale_matching")),
        ),
    ),
    signals=("predictions", "validation"),
)


class NoSignal(MetricMonitor):
    name = "no_signal"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (NO_SIGNAL_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.labels: Any = None
        self.explained = False  # the undefined metric was reported once

    def alarm(self, state: TrainState, auc: float) -> str | None:
        if state.epoch > self.params.after_epoch and auc <= self.params.max_auc:
            return f"{self.params.metric} {auc:.3f} <= {self.params.max_auc:g} at epoch {state.epoch}"
        return None

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        if is_classifier(state.workload):
            self.labels = validation_labels(state)

    def why_undefined(self, metrics: dict[str, Any]) -> str:
        """The reason the metric is NaN, as far as the record and the validation labels tell."""
        name = self.params.metric.upper() if self.params.metric == "auc" else self.params.metric
        val_loss = metrics.get("val_loss")
        if isinstance(val_loss, float) and not math.isfinite(val_loss):
            return f"{name} undefined: the validation logits are not finite (val_loss {val_loss})"
        classes = classes_of(metrics)
        if self.labels is not None and classes:
            import torch

            present = set(torch.unique(self.labels).tolist())
            absent = [k for k in range(classes) if k not in present]
            if absent:
                names = ", ".join(str(k) for k in absent)
                return (
                    f"{name} undefined: class{'es' if len(absent) > 1 else ''} {names} absent from validation "
                    "(a validation split that holds every class, e.g. a stratified split)"
                )
        return f"{name} undefined (NaN): {self.params.metric} cannot be judged on this validation set"

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        value = metrics.get(self.params.metric)
        if isinstance(value, float) and math.isnan(value):
            if not self.explained:
                self.explained = True
                state.add_finding(self.finding_kinds[0], self.name, self.why_undefined(metrics), value=value)
            return
        super().on_epoch_end(state, metrics)

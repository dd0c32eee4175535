"""Prediction-distribution monitor: records ``collapse`` (issue 11, Fix 3) and ``near_collapse``.

Pathology: the model collapses to predicting one class; F1 alone does not say which.
Signal: on validation, one class takes every prediction, or all but ``min_share`` of
them (``max_pred_share >= 1 - min_share``), for any number of classes: ``collapse``.
``near_collapse``: one class takes at least ``near_share`` (95%) of the predictions but
not all of them (a collapse that leaks a few predictions), while that class is less than
``max_label_share`` (80%) of the validation labels (read once, at the start of training,
from the validation loader's data): a model that predicts the class that truly holds 97%
of the labels is not collapsing. An epoch records one of the two, never both: an exact
collapse is ``collapse``; ``near_collapse`` needs the labels (without them: not judged).
Fix: none; this monitor only observes and records. Stopping is ``collapse_stop``.

Not every single-class epoch is a collapse. While a warmup is still raising the LR, and
in the first ``grace_share`` (25%) of a run's optimizer steps, a model that is learning
often still predicts the majority class (the fixed issue-11 runs do in their warmup
epoch; a small transformer from random init sits at the class prior for its first
epochs): those epochs are not recorded. An epoch whose every step ran at LR 0 is always
judged: nothing trained, the single class is the model's start and nothing will move it
(issue 11's broken first epoch). Both rules read the LR per step the loop records
(``state.lr_per_step``) and the run's step count, so they hold for any workload; a
collapse that lasts past the grace period and the warmup is recorded in every epoch it
lasts. ``grace_share: 0`` and ``during_warmup: true`` record every single-class epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.findings import FindingKind
from harness.core.metrics import class_counts
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import CAPACITY_CAPPED, CLASS_IMBALANCE, LABELS_WITHOUT_SIGNAL, LR_TOO_HIGH, LR_ZERO
from harness.plugins._shared.data import label_shares, validation_labels
from harness.plugins._shared.model_parts import is_classifier

if TYPE_CHECKING:
    from harness.core.state import TrainState


def predicted_counts(metrics: dict[str, Any]) -> list[int]:
    """The ``pred_count_<k>`` of a metrics record, in class order (empty: no class predictions)."""
    return class_counts(metrics)


def is_collapsed(metrics: dict[str, Any], min_share: float = 0.0) -> bool:
    """True when validation predictions are (nearly) all one class: the others share <= ``min_share``."""
    counts = predicted_counts(metrics)
    n = sum(counts)
    if not n:
        return False
    return (n - max(counts)) / n <= min_share


def judged(
    lr_per_step: list[float], epoch_start: int, step: int, total_steps: int, grace_share: float, during_warmup: bool
) -> bool:
    """Whether a single-class epoch (steps ``epoch_start+1 .. step``) counts as a collapse.

    Always when every step of the epoch ran at LR 0; otherwise not while the LR is still
    rising at the epoch's last step (``during_warmup`` False) nor before ``grace_share``
    of the run's ``total_steps`` are done.
    """
    epoch_lrs = lr_per_step[epoch_start:step]
    if epoch_lrs and max(epoch_lrs) == 0.0:
        return True
    if not during_warmup and len(lr_per_step) >= 2 and lr_per_step[-1] > lr_per_step[-2]:  # the last two steps
        return False
    return step > grace_share * total_steps


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_share: float = Field(0.0, ge=0, lt=0.5, description="collapse when a class's predicted share <= this")
    grace_share: float = Field(
        0.25, ge=0, le=1, description="not recorded in the first share of the run's steps (unless the LR was 0)"
    )
    during_warmup: bool = Field(False, description="also record while the LR is still rising (a warmup)")
    near_share: float = Field(
        0.95, gt=0.5, le=1, description="near_collapse when one class takes at least this share of the predictions"
    )
    max_label_share: float = Field(
        0.8, gt=0, le=1, description="... and that class is below this share of the validation labels"
    )


COLLAPSE_KIND = FindingKind(
    "collapse",
    "every validation prediction falls on one class",
    causes=(CLASS_IMBALANCE, LR_ZERO, LR_TOO_HIGH, LABELS_WITHOUT_SIGNAL, CAPACITY_CAPPED),
    signals=("predictions", "validation"),
)

NEAR_COLLAPSE_KIND = FindingKind(
    "near_collapse",
    "almost every validation prediction (95%) falls on one class that is far rarer among the labels",
    causes=(CLASS_IMBALANCE, LR_TOO_HIGH, LR_ZERO, CAPACITY_CAPPED),
    signals=("predictions", "validation"),
)


class PredictionDistribution(Plugin):
    name = "prediction_distribution"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (COLLAPSE_KIND, NEAR_COLLAPSE_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.epoch_start = 0  # the step count when the epoch began
        self.labels: Any = None  # the validation labels (None: unknown)

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        if is_classifier(state.workload):
            self.labels = validation_labels(state)

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        epoch_start, self.epoch_start = self.epoch_start, state.step
        counts = predicted_counts(metrics)
        if not counts:
            return  # a workload without class predictions
        n, top = sum(counts), max(range(len(counts)), key=counts.__getitem__)
        collapsed = is_collapsed(metrics, self.params.min_share)
        if not n or not (collapsed or counts[top] / n >= self.params.near_share):
            return
        p = self.params
        if not judged(
            state.lr_per_step, epoch_start, state.step, state.hparams.total_steps, p.grace_share, p.during_warmup
        ):
            return
        if collapsed:
            state.add_finding(
                "collapse",
                self.name,
                f"predicted class {top} for {counts[top]}/{n} validation samples ({len(counts)} classes)",
                value=counts[top] / n,
            )
            return
        self.near_collapse(state, counts, top)

    def near_collapse(self, state: TrainState, counts: list[int], top: int) -> None:
        """``near_collapse`` when class ``top`` is far rarer in the validation labels than predicted."""
        if self.labels is None:
            return
        n = sum(counts)
        truth = label_shares(self.labels, len(counts))[top]
        if truth < self.params.max_label_share:
            state.add_finding(
                "near_collapse",
                self.name,
                f"predicted class {top} for {counts[top]}/{n} validation samples ({counts[top] / n:.0%}) although "
                f"it is {truth:.0%} of the validation labels: the model leans on one class (class weights, "
                "a lower LR or more epochs?)",
                value=counts[top] / n,
            )

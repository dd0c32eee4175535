"""Generalisation monitor: records ``train_val_divergence`` when training improves and validation does not.

Pathology: the model fits the training data but learns nothing that holds on validation:
labels that do not belong to their inputs (a shuffle of one but not the other, a join on
the wrong key), a preprocessing applied to one split only (normalised training features,
raw validation ones), a validation set from another distribution, or plain memorisation.
The training loss falls as in a healthy run, so no loss monitor fires.
Signal: per epoch, the training loss (the mean of the epoch's last ``tail`` (25%) of
steps) against the run's start (the mean of its first ``start_steps`` (3) steps), and
(a) from epoch ``after_epoch`` + 1 (2) on: the training loss below ``train_ratio`` (0.5)
x its start while validation ``accuracy`` is no better than the majority class's share
of the validation labels + ``margin`` (0.05) and the validation loss (when reported) no
lower than the class prior's cross-entropy (the loss of predicting the label shares: a
model whose validation loss is below it has learnt something, whatever a noisy accuracy of
a small validation set says) (the labels are read once, at the start of training, from the
validation loader's data); or (b) the training loss below
``train_ratio`` x its start while the validation loss (``val_loss``) is above ``rise``
(1.5) x its first epoch's value, and validation accuracy (when reported) lags: below
halfway from the majority share to 1, or 0.05 below its best epoch (a validation loss
that rises while accuracy stays near perfect is overconfidence, not harm). Every threshold is relative to the run itself (its
start loss, its validation class prior, its first validation loss). A workload without
``accuracy`` (its own ``metrics``) is judged by (b) alone when it reports ``val_loss``,
else not at all.
Fix: none; this monitor only observes (check that labels travel with their inputs, that
both splits go through the same preprocessing, regularise). Step losses are buffered as
tensors and read once per epoch; at most one finding per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from harness.core.findings import FindingKind
from harness.core.monitoring import StepSeries
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import SAME_ITEM, SPLIT_MISMATCH, VALIDATION_PREPARED_DIFFERENTLY
from harness.plugins._shared.data import label_shares, validation_labels
from harness.plugins._shared.model_parts import is_classifier
from harness.plugins._shared.monitors import RunStart, finite_metric

if TYPE_CHECKING:
    import torch

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    train_ratio: float = Field(0.5, gt=0, lt=1, description="the training loss fell below this x its start")
    margin: float = Field(0.05, ge=0, lt=1, description="accuracy at most the majority share + this is the prior")
    rise: float = Field(1.5, gt=1, description="val_loss above this x its first epoch's value")
    after_epoch: NonNegativeInt = Field(1, description="(a) is judged only after this epoch")
    start_steps: PositiveInt = Field(3, description="optimizer steps whose mean loss is the start")
    tail: float = Field(0.25, gt=0, le=1, description="an epoch's loss: the mean of this last share of its steps")


TRAIN_VAL_DIVERGENCE_KIND = FindingKind(
    "train_val_divergence",
    "training fits while validation does not follow: the splits differ",
    causes=(VALIDATION_PREPARED_DIFFERENTLY, SPLIT_MISMATCH, SAME_ITEM),
    signals=("loss", "validation"),
)


class Generalisation(Plugin):
    name = "generalisation"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (TRAIN_VAL_DIVERGENCE_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.series = StepSeries()
        self.start = RunStart(self.params.start_steps)
        self.first_val_loss: float | None = None
        self.majority: float | None = None  # the majority class's share of the validation labels
        self.prior_loss: float | None = None  # the cross-entropy of predicting the label shares
        self.best_accuracy: float | None = None  # the best validation accuracy of the epochs so far

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        if not is_classifier(state.workload):
            return
        labels = validation_labels(state)
        if labels is not None and labels.numel():
            classes = int(labels.max()) + 1 if int(labels.min()) >= 0 else 0
            shares = label_shares(labels, classes) if classes else []
            if shares:
                self.majority = max(shares)
                self.prior_loss = -sum(p * math.log(p) for p in shares if p > 0)

    @hookimpl
    def on_step(self, state: TrainState, loss: torch.Tensor) -> None:
        self.series.add(state.step, loss)

    def train_loss(self) -> float | None:
        """This epoch's training loss (its tail's mean), fixing the run's start on the first call."""
        _, losses = self.series.drain()
        finite = [v for v in losses if math.isfinite(v)]
        if not finite:
            return None
        self.start.fix(finite)
        tail = finite[-max(self.params.start_steps, int(len(finite) * self.params.tail)) :]
        return sum(tail) / len(tail)

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        loss = self.train_loss()
        val_loss = finite_metric(metrics, "val_loss")
        first_val = self.first_val_loss
        lags = self.validation_lags(finite_metric(metrics, "accuracy"))
        if self.first_val_loss is None and val_loss is not None:
            self.first_val_loss = val_loss
        p, start = self.params, self.start.value
        if loss is None or start is None or not start > 0 or loss >= p.train_ratio * start:
            return
        fell = f"the training loss fell to {loss:.4g} ({loss / start:.0%} of its start {start:.4g})"
        accuracy = finite_metric(metrics, "accuracy")
        prior = None if self.majority is None else self.majority + p.margin
        above_prior = val_loss is None or self.prior_loss is None or val_loss >= self.prior_loss
        if (
            state.epoch > p.after_epoch
            and accuracy is not None
            and prior is not None
            and accuracy <= prior
            and above_prior
        ):
            message = (
                f"{fell} but validation accuracy is {accuracy:.3f}, no better than the majority class's "
                f"{self.majority:.3f} of the validation labels: what is learnt does not carry over (labels "
                "shuffled apart from their inputs, a preprocessing applied to one split only?)"
            )
            state.add_finding("train_val_divergence", self.name, message, step=state.step, value=accuracy)
        elif (
            first_val is not None and val_loss is not None and first_val > 0 and val_loss > p.rise * first_val and lags
        ):
            message = (
                f"{fell} while the validation loss rose to {val_loss:.4g}, {val_loss / first_val:.1f} x its first "
                f"epoch's {first_val:.4g}: the model memorises the training set (regularise, stop earlier, "
                "check the splits)"
            )
            state.add_finding("train_val_divergence", self.name, message, step=state.step, value=val_loss)

    def validation_lags(self, accuracy: float | None) -> bool:
        """Whether validation accuracy (when reported) shows the rise of the validation loss is harm, not
        calibration: it sits below halfway from the majority share to 1, or fell from its best."""
        if accuracy is None:
            return True
        best, self.best_accuracy = self.best_accuracy, max(self.best_accuracy or 0.0, accuracy)
        majority = self.majority if self.majority is not None else 0.0
        fell = best is not None and accuracy < best - 0.05
        return fell or accuracy <= majority + 0.5 * (1 - majority)

    @hookimpl
    def on_train_end(self) -> None:
        self.series.drain()

"""Convergence monitor: ``bad_initial_loss`` (start far above log C) and ``no_convergence``.

Pathology: a run that cannot learn: labels that carry no information, weights that never
move, an LR stuck at 0 or far too high, a dead network; or a run that starts from a
broken state: unnormalised inputs or a wrongly scaled loss make the first logits (or the
loss itself) huge.
Signal: (a) ``bad_initial_loss``: the lowest task loss of the first ``start_batches`` training
batches (the criterion recomputed on them, so extra loss terms do not count; the lowest, since
the first batch's comes before any step and a too-high LR explodes the next ones) is above
``initial_ratio`` (3) x ``log(C)``, the loss of a classifier that knows nothing (C: the
number of class logits; 2 for a single logit). A workload that is not a classifier (its own
``metrics``: a regression, a distillation student) is not judged. (b) ``no_convergence``: once ``after_share`` (half) of the run's optimizer steps
are done, an epoch whose training loss (the mean of its last ``tail`` (25%) of steps) is
not at least ``min_drop`` (10%) below the loss of the first ``start_steps`` steps (a
positive start only). Both compare the run with itself (its own start, its own number of
classes), so no threshold depends on the workload. Judging only from half-way is the
price of no false alarms: a small transformer from random init sits at the class prior
for its first epochs before it learns, which a shuffled-label run cannot be told from
earlier.
Fix: none; this monitor only observes. Step losses are buffered as tensors and read once
per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.findings import FindingKind
from harness.core.plugin import hookimpl
from harness.plugins._shared.causes import (
    HEAVY_WEIGHT_DECAY,
    LABELS_WITHOUT_SIGNAL,
    LR_TOO_HIGH,
    LR_ZERO,
    SUMMED_LOSS,
    UNNORMALISED_INPUTS,
    WEIGHTS_NOT_TRAINED,
)
from harness.plugins._shared.model_parts import class_logits
from harness.plugins._shared.monitors import RunStart, StepLossMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_batches: PositiveInt = Field(3, description="training batches whose task loss is the initial loss")
    initial_ratio: float = Field(3.0, gt=1, description="bad_initial_loss above this x log(C)")
    start_steps: PositiveInt = Field(3, description="optimizer steps whose mean loss is the start")
    min_drop: float = Field(
        0.1, gt=0, lt=1, description="no_convergence unless an epoch's loss is this share below the start"
    )
    after_share: float = Field(0.5, ge=0, le=1, description="judge convergence once this share of the steps is done")
    tail: float = Field(0.25, gt=0, le=1, description="an epoch's loss: the mean of this last share of its steps")


BAD_INITIAL_LOSS_KIND = FindingKind(
    "bad_initial_loss",
    "an initial loss far from log(C), what an untrained classifier gives",
    causes=(UNNORMALISED_INPUTS, SUMMED_LOSS),
    lr_type=True,
    signals=("loss",),
    roles=frozenset(("stall",)),
)

NO_CONVERGENCE_KIND = FindingKind(
    "no_convergence",
    "the training loss barely fell over the run",
    causes=(LABELS_WITHOUT_SIGNAL, LR_ZERO, WEIGHTS_NOT_TRAINED, LR_TOO_HIGH, HEAVY_WEIGHT_DECAY),
    lr_type=True,
    signals=("loss", "loss_trend"),
)


class Convergence(StepLossMonitor):
    name = "convergence"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (BAD_INITIAL_LOSS_KIND, NO_CONVERGENCE_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.start = RunStart(self.params.start_steps)
        self.initial: list[Any] = []
        self.classes: int | None = None
        self.batches = 0
        self.judged_initial = False

    @hookimpl
    def on_batch_end(self, state: TrainState, batch: dict[str, Any], outputs: Any) -> None:
        import torch

        if self.batches >= self.params.start_batches:
            return
        self.batches += 1
        logits = class_logits(state.workload, outputs)
        if logits is None or state.criterion is None:
            return
        self.classes = int(logits.shape[-1]) if logits.dim() >= 2 and logits.shape[-1] >= 2 else 2
        with torch.no_grad():
            self.initial.append(state.criterion(outputs, batch).detach().float().reshape(()))

    def judge_initial(self, state: TrainState) -> None:
        import torch

        if self.judged_initial or not self.initial or self.classes is None:
            return
        self.judged_initial = True
        value = float(torch.stack(self.initial).min())  # a too-high LR must not make the start look broken
        expected = math.log(self.classes)
        if math.isfinite(value) and value > self.params.initial_ratio * expected:
            state.add_finding(
                "bad_initial_loss",
                self.name,
                f"initial task loss {value:.4g} (the lowest of the first {len(self.initial)} batches) = {value / expected:.1f} x log({self.classes}) = {expected:.3g} "
                "(a classifier that knows nothing starts near log(C)): inputs or loss on the wrong scale?",
                step=1,
                value=value,
                detail={"ratio_to_log_c": value / expected, "classes": self.classes},
            )

    def check(self, state: TrainState) -> None:
        _, losses = self.series.drain()
        finite = [v for v in losses if math.isfinite(v)]
        self.start.fix(finite)
        total, start = state.hparams.total_steps, self.start.value
        if start is None or not math.isfinite(start) or start <= 0 or not finite:
            return
        if state.step < self.params.after_share * total:
            return
        tail = finite[-max(self.params.start_steps, int(len(finite) * self.params.tail)) :]
        mean = sum(tail) / len(tail)
        if mean > (1 - self.params.min_drop) * start:
            state.add_finding(
                "no_convergence",
                self.name,
                f"epoch {state.epoch} ends at a mean loss of {mean:.4g} vs {start:.4g} at the start "
                f"({(1 - mean / start) if start else 0:.1%} lower; at least {self.params.min_drop:.0%} expected "
                f"after {state.step} of {total} steps)",
                step=state.step,
                value=mean,
            )

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.judge_initial(state)
        self.check(state)

    @hookimpl
    def on_train_end(self, state: TrainState) -> None:
        self.judge_initial(state)
        self.series.drain()  # the steps of an unfinished epoch: too few to judge convergence

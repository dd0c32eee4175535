"""Loss-plateau monitor: records ``loss_plateau`` when the loss stalls at a mediocre value.

Pathology: a run that learns a little and then stops: an LR too low for the model, a
layer that cannot learn (a bottleneck, frozen or dead units), a schedule that decays
too early, inputs the model cannot use. The loss fell enough at the start (more than
the 10% ``no_convergence`` asks) and then flattens far above what a model that learnt
the task reaches: a 10-class run whose loss dropped 14% and ends at 21% accuracy.
Signal: once ``after_share`` (half) of the run's optimizer steps are done, an epoch whose
training loss (the mean of all its steps' losses: a few steps' tail is too noisy to
compare epochs) is (a) still above
``chance_ratio`` (0.7) x ``log(C)``, the loss of a classifier that knows nothing (C: the
number of class logits, 2 for a single logit), and (b) less than ``min_gain`` (5%) below
the previous epoch's, while (c) it is at least ``min_drop`` (10%) below the run's start
(the first ``start_steps`` (3) steps' mean): a run that never dropped 10% is
``no_convergence``'s, not this one's. Not judged while a warmup still raises the LR at the
epoch's last step (a slow start is not a plateau). Judged against chance and against the run's own
trajectory, so the rule holds for any number of classes; a healthy run that converges
is below 0.7 x log(C) by half-way or still improving. A workload that is not a
classifier (its own ``metrics``) is not judged.
Fix: none; this monitor only observes (a higher LR or a longer warmup, a wider model,
normalised inputs; see the other findings of the run). Step losses are buffered as
tensors and read once per epoch; at most one finding per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.findings import FindingKind
from harness.core.plugin import hookimpl
from harness.plugins._shared.causes import CAPACITY_CAPPED, HEAVY_WEIGHT_DECAY, LABELS_WITHOUT_SIGNAL, LR_ZERO
from harness.plugins._shared.model_parts import class_logits
from harness.plugins._shared.monitors import RunStart, StepLossMonitor

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chance_ratio: float = Field(0.7, gt=0, description="a plateau only above this x log(C)")
    min_gain: float = Field(0.05, gt=0, lt=1, description="a plateau: an epoch less than this share below the last")
    min_drop: float = Field(0.1, ge=0, lt=1, description="judged only once the loss is this share below its start")
    after_share: float = Field(0.5, ge=0, le=1, description="judge once this share of the run's steps is done")
    start_steps: PositiveInt = Field(3, description="optimizer steps whose mean loss is the start")


LOSS_PLATEAU_KIND = FindingKind(
    "loss_plateau",
    "the loss fell, then stalled above what the task allows",
    causes=(CAPACITY_CAPPED, HEAVY_WEIGHT_DECAY, LR_ZERO, LABELS_WITHOUT_SIGNAL),
    signals=("loss",),
)


class LossPlateau(StepLossMonitor):
    name = "loss_plateau"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (LOSS_PLATEAU_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.classes: int | None = None
        self.start = RunStart(self.params.start_steps)
        self.previous: float | None = None  # the last epoch's loss
        self.lrs: list[float] = []  # the LR of the epoch's last two steps (host-side numbers)

    @hookimpl
    def on_step(self, state: TrainState, loss: Any) -> None:
        super().on_step(state, loss)
        self.lrs = [*self.lrs[-1:], state.current_lr()]

    @hookimpl
    def on_batch_end(self, state: TrainState, outputs: Any) -> None:
        if self.classes is not None:
            return
        logits = class_logits(state.workload, outputs)
        if logits is not None:
            self.classes = int(logits.shape[-1]) if logits.dim() >= 2 and logits.shape[-1] >= 2 else 2

    def epoch_loss(self) -> float | None:
        _, losses = self.series.drain()
        finite = [v for v in losses if math.isfinite(v)]
        if not finite:
            return None
        self.start.fix(finite)
        return sum(finite) / len(finite)

    def check(self, state: TrainState) -> None:
        loss = self.epoch_loss()
        previous, self.previous = self.previous, loss
        p = self.params
        start, classes = self.start.value, self.classes
        if loss is None or previous is None or start is None or classes is None or previous <= 0 or start <= 0:
            return
        if state.step < p.after_share * state.hparams.total_steps or state.hparams.total_steps <= 0:
            return
        if len(self.lrs) == 2 and self.lrs[1] > self.lrs[0]:
            return  # a warmup still raising the LR
        chance = math.log(classes)
        stalled = loss > (1 - p.min_gain) * previous
        if loss > p.chance_ratio * chance and stalled and loss <= (1 - p.min_drop) * start:
            state.add_finding(
                "loss_plateau",
                self.name,
                f"epoch {state.epoch}'s loss {loss:.4g} is {loss / chance:.2f} x log({self.classes}) = {chance:.3g} "
                f"(chance) and {1 - loss / previous:.1%} below the last epoch's {previous:.4g}: the loss stalls far "
                f"above a learnt task after a {1 - loss / start:.0%} drop (LR too low, a model too small?)",
                step=state.step,
                value=loss,
            )

    @hookimpl
    def on_train_end(self, state: TrainState) -> None:  # the base's signature; the state is not needed
        self.series.drain()  # the steps of an unfinished epoch: too few to judge

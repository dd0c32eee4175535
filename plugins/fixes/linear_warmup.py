"""Linear warmup/decay schedule and *when* it is stepped (issue 11, Fix 8).

Pathology: ``get_linear_schedule_with_warmup`` is a per-step schedule. v1.5 stepped it
once per epoch, so the LR is exactly 0 for the whole first epoch and afterwards only
``epoch / warmup_steps`` of its target: only the output bias learns the class prior,
every input gets the same margin, and the model predicts the majority class.
Signal: the LR per step stays ~0 (see the run's ``lr_per_step``); predictions collapse.
Fix: ``interval: step``: call ``scheduler.step()`` after every optimizer step.
``interval: epoch`` replays the v1.5 mistake.

The schedule spans ``hparams.total_steps`` optimizer steps (``ceil(batches /
accumulation_steps) * epochs``, counted by the core) with ``warmup_ratio`` of them
warming up. v1.5 also counted the schedule's length in *batches*, which with gradient
accumulation stretches it past the end of training: ``count_steps_in: batches`` replays
that (no difference when ``accumulation_steps`` is 1). ``count_steps_in: epochs`` replays
a schedule given ``num_training_steps=max_epochs`` while stepped per step (Lightning
#18570): with ``warmup_steps`` above the epoch count, the LR warms up and then is
``max(0, (epochs - step) / 1) = 0`` for every later step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Literal["step", "epoch"] = Field("step", description="when scheduler.step() is called")
    count_steps_in: Literal["optimizer_steps", "batches", "epochs"] = Field(
        "optimizer_steps",
        description="schedule length in optimizer steps (the fix), batches (v1.5) or epochs "
        "(num_training_steps=max_epochs, Lightning #18570)",
    )
    warmup_steps: NonNegativeInt | None = Field(
        None, description="warmup steps (None: warmup_ratio of the schedule's length)"
    )


class LinearWarmup(Plugin):
    name = "linear_warmup"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = (
        "collapse",
        "lr_zero",
        "schedule_mismatch",
        "weights_not_updating",
        "no_convergence",
        "near_collapse",
        "loss_plateau",
    )
    suggestions = ({"interval": "step"},)

    def unused_hooks(self) -> frozenset[str]:
        return frozenset({"on_epoch_end"} if self.params.interval == "step" else {"on_step"})

    @hookimpl
    def make_scheduler(self, state: TrainState) -> LRScheduler:
        from transformers import get_linear_schedule_with_warmup

        hp, p = state.hparams, self.params
        total = {"optimizer_steps": hp.total_steps, "batches": hp.batches_per_epoch * hp.epochs, "epochs": hp.epochs}[
            p.count_steps_in
        ]
        warmup = p.warmup_steps if p.warmup_steps is not None else int(total * hp.warmup_ratio)
        return get_linear_schedule_with_warmup(state.optimizer, warmup, total)

    @hookimpl
    def on_step(self, state: TrainState) -> None:
        assert state.scheduler is not None, "this plugin's make_scheduler built it (one scheduler slot)"
        state.scheduler.step()

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        assert state.scheduler is not None, "this plugin's make_scheduler built it (one scheduler slot)"
        state.scheduler.step()

"""Linear warmup/decay schedule and *when* it is stepped (issue 11, Fix 8).

Pathology: ``get_linear_schedule_with_warmup`` is a per-step schedule. v1.5 stepped it
once per epoch, so the LR is exactly 0 for the whole first epoch and afterwards only
``epoch / warmup_steps`` of its target: only the output bias learns the class prior,
every input gets the same margin, and the model predicts the majority class.
Signal: the LR per step stays ~0 (see the run's ``lr_per_step``); predictions collapse.
Fix: ``interval: step``: call ``scheduler.step()`` after every optimizer step.
``interval: epoch`` replays the v1.5 mistake.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Literal["step", "epoch"] = Field("step", description="when scheduler.step() is called")


class LinearWarmup(Plugin):
    name = "linear_warmup"
    Params = Params

    def unused_hooks(self) -> frozenset[str]:
        return frozenset({"on_epoch_end"} if self.params.interval == "step" else {"on_step"})

    @hookimpl
    def make_scheduler(self, state: Any) -> Any:
        from transformers import get_linear_schedule_with_warmup

        hp = state.hparams
        warmup_steps = int(hp.total_steps * hp.warmup_ratio)
        state.stash["warmup_steps"] = warmup_steps
        return get_linear_schedule_with_warmup(state.optimizer, warmup_steps, hp.total_steps)

    @hookimpl
    def on_step(self, state: Any) -> None:
        state.scheduler.step()

    @hookimpl
    def on_epoch_end(self, state: Any) -> None:
        state.scheduler.step()

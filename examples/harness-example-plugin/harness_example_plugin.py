"""An example third-party harness plugin: a floor under the learning rate.

Pathology: a per-step warmup schedule stepped once per epoch (issue 11, v1.5) keeps the
learning rate at exactly 0 for the whole first epoch: every step of it is wasted.
Signal: the run's ``lr_per_step`` starts with zeros.
Fix: just before every optimizer step, raise each parameter group's learning rate to
at least ``min_lr`` (the scheduler still sets it afresh each time it steps).

Installed with ``pip install harness-example-plugin`` it is found through the
``harness`` entry-point group; switch it on in a scenario with
``plugins: {lr_floor: {min_lr: 1.0e-4}}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from harness.core.plugin import Plugin, hookimpl


def floor_lr(param_groups: list[dict[str, Any]], min_lr: float) -> int:
    """Raise every group's ``lr`` to ``min_lr``; returns how many groups were raised."""
    raised = 0
    for group in param_groups:
        if group["lr"] < min_lr:
            group["lr"] = min_lr
            raised += 1
    return raised


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_lr: PositiveFloat = Field(1e-5, description="the lowest learning rate an optimizer step may use")


class LRFloor(Plugin):
    name = "lr_floor"
    kind = "fix"
    Params = Params

    @hookimpl
    def on_before_optimizer_step(self, state: Any) -> None:
        floor_lr(state.optimizer.param_groups, self.params.min_lr)

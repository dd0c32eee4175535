"""Loss weights: ``alpha_task * task + alpha_distill * distillation`` (v-old 0.5/0.5, fix 0.3/0.7).

Pathology: with ``alpha_distill = alpha_task = 0.5`` the distillation term (huge on raw
logits) dominates: the task loss is ignored and AUC stays at 0.5.
Signal: ``no_signal`` (AUC <= 0.5 after epoch 2) while the loss still falls.
Fix: the report's ``alpha_distill = 0.3, alpha_task = 0.7``. Measured: re-weighting
alone does not cure the raw-logit collapse (0.3 x 1e6 still dominates); it matters once
the terms are on the same scale.

Both are weights of named loss terms, set in ``on_setup`` as
``hparams.loss_weights = {"task": alpha_task, "distill": alpha_distill}``; the core
multiplies each term by its weight, whoever computes it (the main loss is ``task``, the
``distillation`` plugin's term ``distill``). The plugin answers no loss hook itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.hookspecs import TASK_LOSS
from harness.core.plugin import Plugin, hookimpl
from harness.plugins.fixes.distillation import DISTILL_TERM

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha_distill: float = Field(0.3, ge=0, description="weight of the distillation term (v-old: 0.5)")
    alpha_task: float = Field(0.7, ge=0, description="weight of the task loss (v-old: 0.5)")


class LossWeights(Plugin):
    name = "loss_weights"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("no_signal",)

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        state.hparams.loss_weights.update({TASK_LOSS: self.params.alpha_task, DISTILL_TERM: self.params.alpha_distill})

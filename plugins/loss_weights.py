"""Loss weights: ``alpha_task * task + alpha_distill * distillation`` (v-old 0.5/0.5, fix 0.3/0.7).

Pathology: with ``alpha_distill = alpha_task = 0.5`` the distillation term (huge on raw
logits) dominates: the task loss is ignored and AUC stays at 0.5.
Signal: ``no_signal`` (AUC <= 0.5 after epoch 2) while the loss still falls.
Fix: the report's ``alpha_distill = 0.3, alpha_task = 0.7``. Measured: re-weighting
alone does not cure the raw-logit collapse (0.3 x 1e6 still dominates); it matters once
the terms are on the same scale.

The task weight is applied to the main loss (``compute_loss``); the distillation weight
is published as ``state.stash["alpha_distill"]`` for the ``distillation`` plugin.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha_distill: float = Field(0.3, ge=0, description="weight of the distillation term (v-old: 0.5)")
    alpha_task: float = Field(0.7, ge=0, description="weight of the task loss (v-old: 0.5)")


class LossWeights(Plugin):
    name = "loss_weights"
    Params = Params

    @hookimpl
    def on_setup(self, state: Any) -> None:
        state.stash["alpha_distill"] = self.params.alpha_distill
        state.stash["alpha_task"] = self.params.alpha_task

    @hookimpl
    def compute_loss(self, state: Any, batch: Any, outputs: Any) -> Any:
        return self.params.alpha_task * state.criterion(outputs, batch)

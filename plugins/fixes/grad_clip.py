"""Gradient clipping by norm and/or by value (issue 11 Fix 2; distillation report).

Pathology: occasional huge gradients (a scale mismatch, a bad batch) take a step far
off the loss surface: the loss spikes or explodes.
Signal: the total gradient norm jumps by orders of magnitude.
Fix: ``clip_grad_norm_(max_norm)`` (issue 11: 1.0; distillation: 0.5) and optionally
``clip_grad_value_(max_value)`` (distillation: 1.0), just before the optimizer step.
On a script (``acts_on_scripts``): the same, on the tensors of the optimizer that is about to
step, after the monitors have read the raw gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_norm: float | None = Field(1.0, gt=0, description="total L2 norm cap (None: no norm clipping)")
    max_value: float | None = Field(None, gt=0, description="per-element cap (None: no value clipping)")

    @model_validator(mode="after")
    def _something_to_clip(self) -> Params:
        if self.max_norm is None and self.max_value is None:
            raise ValueError("set max_norm, max_value or both")
        return self


class GradClip(Plugin):
    name = "grad_clip"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("grad_explosion", "loss_explosion", "loss_oscillation", "nan")
    acts_on_scripts = True
    script_edit_site = "optimizer_step"

    def script_edit(self, lr: float | None = None) -> str:
        p = self.params
        call = (
            f"torch.nn.utils.clip_grad_norm_(model.parameters(), {p.max_norm:g})"
            if p.max_norm is not None
            else f"torch.nn.utils.clip_grad_value_(model.parameters(), {p.max_value:g})"
        )
        return f"clip the gradients right before optimizer.step(): {call}"

    @hookimpl
    def on_before_optimizer_step(self, state: TrainState) -> None:
        self.clip([p for p in state.model.parameters() if p.grad is not None])

    def script_before_step(self, optimizer: Any) -> None:
        self.clip([p for g in optimizer.param_groups for p in g["params"] if p.grad is not None])

    def clip(self, params: list[Any]) -> None:
        import torch

        if not params:
            return
        if self.params.max_value is not None:
            torch.nn.utils.clip_grad_value_(params, self.params.max_value)
        if self.params.max_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.params.max_norm)

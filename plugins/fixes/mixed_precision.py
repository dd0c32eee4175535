"""Mixed precision: bf16 autocast on CPU, fp16 autocast + GradScaler on CUDA (issue 11, Fix 5).

Pathology: reduced precision can hide or cause instability; issue 11 disabled AMP
while debugging the collapse, and re-enabled it once training was stable.
Signal: none by itself; compare a variant with and without this plugin.
Fix: this plugin *is* the toggle: on = autocast (and loss scaling for fp16), off =
full fp32. With fp16 the gradients are unscaled at the end of the backward pass of
each optimizer step's last batch (``backward`` with ``step_due``), so every plugin from
``on_after_backward`` on sees them in true scale, whatever order plugins are called in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    import torch

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dtype: Literal["auto", "bf16", "fp16"] = Field("auto", description="auto: bf16 on CPU, fp16 on CUDA")


class MixedPrecision(Plugin):
    name = "mixed_precision"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("memory_over_budget",)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.scaler: Any = None
        self.dtype: Any = None

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        import torch

        choice = self.params.dtype
        if choice == "auto":
            choice = "fp16" if state.device.type == "cuda" else "bf16"
        self.dtype = torch.float16 if choice == "fp16" else torch.bfloat16
        if self.dtype is torch.float16:
            self.scaler = torch.amp.GradScaler(state.device.type)

    @hookimpl
    def forward_context(self, state: TrainState) -> Any:
        import torch

        return torch.autocast(device_type=state.device.type, dtype=self.dtype)

    @hookimpl
    def backward(self, state: TrainState, loss: torch.Tensor, step_due: bool) -> bool | None:
        if self.scaler is None:
            return None
        self.scaler.scale(loss).backward()
        if step_due:  # the step's gradients are complete: hand them on in true scale
            self.scaler.unscale_(state.optimizer)
        return True

    @hookimpl
    def optimizer_step(self, state: TrainState) -> bool | None:
        if self.scaler is None:
            return None
        self.scaler.step(state.optimizer)
        self.scaler.update()
        return True

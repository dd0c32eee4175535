"""Reset the gradients before each backward that follows an optimizer step: the cure of a missing ``zero_grad()``.

Pathology: ``optimizer.zero_grad()`` is never called (deleted, or outside the batch loop):
``backward()`` adds every batch's gradient to all earlier ones (see ``bug_no_zero_grad``).
Signal: ``stale_gradients`` (the parameters still hold gradients before a step's first backward).
Fix: before the first backward after each optimizer step, every gradient of the stepped
optimizer's tensors is set to None, as ``zero_grad(set_to_none=True)`` would; the micro-batches of
one accumulated step still add up. In the harness loop: in ``on_step``, right after the step (it
acts even where ``zero_grad`` was made a no-op). On a script (``acts_on_scripts``): before
``torch.autograd.backward`` (``loss.backward()``) that follows a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


def reset(params: Any) -> None:
    for param in params:
        param.grad = None


class GradReset(Plugin):
    name = "grad_reset"
    addresses = ("stale_gradients",)
    acts_on_scripts = True
    script_edit_site = "optimizer_step"

    def script_edit(self, lr: float | None = None) -> str:
        return "call optimizer.zero_grad() in every step, before loss.backward()"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.stepped: dict[int, Any] = {}  # a script: the optimizers that stepped since the last backward

    @hookimpl
    def on_step(self, state: TrainState, loss: Any) -> None:
        reset(state.model.parameters())

    def script_after_step(self, optimizer: Any) -> None:
        self.stepped[id(optimizer)] = optimizer

    def script_before_backward(self) -> None:
        for optimizer in self.stepped.values():
            reset(p for group in optimizer.param_groups for p in group["params"])
        self.stepped.clear()

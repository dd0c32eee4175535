"""Bug: the optimizer's gradients are never zeroed, so every step adds to all earlier ones.

Pathology: the training loop never calls ``optimizer.zero_grad()`` (it was deleted, or it
sits outside the batch loop). ``loss.backward()`` *accumulates* into ``.grad``, so the
gradient of step k is the sum of every batch's gradient since the start: its norm grows
with the step count, the update direction is dominated by old batches, and training
oscillates or stalls.
Signal: before a step's first backward the parameters still hold gradients
(``stale_gradients``, from the ``stale_gradients`` monitor); the gradient norm grows step
after step; the loss oscillates or does not converge.
Fix: call ``optimizer.zero_grad(set_to_none=True)`` once per optimizer step (after
``optimizer.step()``), as the harness loop does: switch this bug off.

Mechanism: in ``on_train_start`` the optimizer's ``zero_grad`` is replaced by a no-op, so
the loop's own call after every step does nothing; everything else (backward,
clipping, the step) runs as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class DeletedZeroGrad:
    """What ``optimizer.zero_grad`` becomes: nothing (a module-level class, so an optimizer
    pickled whole, as v1.5 checkpoints do, still pickles)."""

    def __call__(self, set_to_none: bool = True) -> None:
        return None


class BugNoZeroGrad(Plugin):
    name = "bug_no_zero_grad"
    kind = "bug"
    shows_as = ("stale_gradients", "grad_explosion", "loss_oscillation", "loss_explosion", "no_convergence", "nan")

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        assert state.optimizer is not None, "make_optimizer runs before on_train_start"
        state.optimizer.zero_grad = DeletedZeroGrad()

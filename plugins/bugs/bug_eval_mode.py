"""Bug: the model is left in ``eval()`` mode while it trains.

Pathology: a validation helper calls ``model.eval()`` and training never calls
``model.train()`` again (or a wrapper's ``.eval()`` is called at set-up). Dropout is off
and BatchNorm normalises with running statistics it no longer updates, so the model
trains without regularisation (and with stale BatchNorm statistics); the harm grows
with the dropout rate and the batch-statistics mismatch, and is nil for a model without
either.
Signal: the model (or one of its Dropout/BatchNorm modules) is not in training mode
during a training batch (``eval_mode``, from the ``train_mode`` monitor).
Fix: call ``model.train()`` at the start of every epoch (after each validation), as the
harness loop does: switch this bug off.

Mechanism: ``model.eval()`` in ``on_batch``, after the loop's ``model.train()`` and
before the forward pass, for every training batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class BugEvalMode(Plugin):
    name = "bug_eval_mode"
    kind = "bug"
    shows_as = ("eval_mode",)

    @hookimpl
    def on_batch(self, state: TrainState) -> None:
        state.model.eval()

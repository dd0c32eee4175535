"""Train-mode monitor: records ``eval_mode`` when the model trains in ``eval()`` mode.

Pathology: ``model.eval()`` called for validation (or at set-up) and never undone:
Dropout is off and BatchNorm uses (and no longer updates) its running statistics while
the model trains, so training differs from what the recipe says; the harm grows with
the dropout rate and the batch-statistics mismatch.
Signal: the model's ``training`` flag is False during a training batch (read at the end
of the batch, after the forward pass it governed). Only the model itself is checked: a
recipe that puts *some* submodules in eval mode on purpose (frozen BatchNorm while
fine-tuning) is not a finding. The message names how many Dropout/BatchNorm modules the
mode affects (none: the mistake has no effect on this model, but is still reported).
Fix: none; this monitor only observes (``model.train()`` at the start of every epoch, as
the harness loop does). A host-side flag per batch: no device sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.diagnosis import Cause
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.evidence import seen

if TYPE_CHECKING:
    from harness.core.state import TrainState

#: modules whose forward differs between train() and eval() (matched by class name)
MODE_DEPENDENT = ("Dropout", "BatchNorm", "InstanceNorm", "AlphaDropout")


EVAL_MODE_KIND = FindingKind(
    "eval_mode",
    "the model trained in eval mode (dropout and batch-norm statistics frozen)",
    causes=(
        Cause(
            "the model left in eval() mode while training",
            "evaluation calls model.eval() and training never calls model.train(): dropout is off and "
            "BatchNorm uses its running statistics",
            "call model.train() at the start of every training epoch (after evaluating)",
            (),
            seen("eval_mode"),
        ),
    ),
    site="eval_call",
    roles=frozenset(("structural",)),
)


class TrainMode(Plugin):
    name = "train_mode"
    kind = "monitor"
    kinds = (EVAL_MODE_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.eval_batches = 0
        self.batches = 0

    @hookimpl
    def on_batch_end(self, state: TrainState) -> None:
        self.batches += 1
        if not state.model.training:
            self.eval_batches += 1

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        if self.eval_batches:
            affected = [n for n, m in state.model.named_modules() if any(k in type(m).__name__ for k in MODE_DEPENDENT)]
            effect = (
                f"{len(affected)} Dropout/BatchNorm modules behave as in evaluation"
                if affected
                else "the model has no Dropout/BatchNorm module, so here it changes nothing"
            )
            state.add_finding(
                "eval_mode",
                self.name,
                f"the model was in eval() mode in {self.eval_batches} of {self.batches} training batches of epoch "
                f"{state.epoch}: {effect}",
                value=self.eval_batches / max(self.batches, 1),
            )
        self.eval_batches = self.batches = 0

"""Bug: the optimizer is built over parameters that are not the model's (weights never update).

Pathology: the optimizer is created from one model object and training runs another: the
model is re-created or deep-copied after the optimizer (an EMA copy, a model rebuilt
after ``torch.load``, a ``copy.deepcopy`` for a teacher), or it is built over a stale
``list(model.parameters())``. Backward fills the trained model's gradients, the optimizer
steps the other tensors: the loss never moves and the weights stay at their init.
Signal: the parameters receive non-zero gradients but do not change over an epoch
(``weights_not_updating``, from the ``weight_updates`` monitor); ``optimizer.zero_grad()``
clears the other tensors' gradients, so the model's pile up (``stale_gradients``); the
loss stays at its start (``no_convergence``); predictions stay as at init.
Fix: build the optimizer over ``model.parameters()`` of the model that trains, after the
model's last re-creation: the ``optimizer`` fix does (it takes this plugin's slot,
``make_optimizer``).

Mechanism: answers ``make_optimizer`` with ``AdamW(copy.deepcopy(model).parameters())``
(the run's LR and weight decay): the slot ``make_optimizer``, so a fix that builds the
optimizer replaces it (``harness doctor``), and another optimizer plugin enabled with it
is refused.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from harness.core.state import TrainState


class BugForeignOptimizer(Plugin):
    name = "bug_foreign_optimizer"
    kind = "bug"
    shows_as = ("weights_not_updating", "stale_gradients", "no_convergence", "collapse")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.other: Any = None  # the model the optimizer really steps

    @hookimpl
    def make_optimizer(self, state: TrainState) -> Optimizer:
        import torch

        self.other = copy.deepcopy(state.model)
        hp = state.hparams
        return torch.optim.AdamW(self.other.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)

"""Core defaults: what a plain PyTorch loop does when no fix answers a hook.

Pathology: none; this is the baseline every fix is measured against.
Signal: none.
Fix: none. Answers every *firstresult* hook last (``trylast``) with the plain choice:
the workload's mean loss, AdamW, no scheduler, no autocast, ``loss.backward()`` and
``optimizer.step()``. With only this plugin on, the harness loop gives the same
weights as a hand-written loop (the parity test checks ``torch.equal``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    import torch
    from torch.optim import Optimizer

    from harness.core.state import Criterion, TrainState


class Defaults(Plugin):
    name = "defaults"
    kind = "core"

    @hookimpl(trylast=True)
    def make_criterion(self, state: TrainState) -> Criterion:
        return state.workload.default_criterion()

    @hookimpl(trylast=True)
    def make_optimizer(self, state: TrainState) -> Optimizer:
        import torch

        hp = state.hparams
        return torch.optim.AdamW(state.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)

    @hookimpl(trylast=True)
    def forward_context(self, state: TrainState) -> Any:
        return contextlib.nullcontext()

    @hookimpl(trylast=True)
    def compute_loss(self, state: TrainState, batch: Any, outputs: Any) -> Any:
        assert state.criterion is not None, "make_criterion runs before the first batch"
        return state.criterion(outputs, batch)

    @hookimpl(trylast=True)
    def backward(self, loss: torch.Tensor) -> bool:
        loss.backward()
        return True

    @hookimpl(trylast=True)
    def optimizer_step(self, state: TrainState) -> bool:
        assert state.optimizer is not None, "make_optimizer runs before the first batch"
        state.optimizer.step()
        return True

"""SGD with Nesterov momentum instead of Adam.

Pathology: Adam's per-parameter step normalisation moves every weight by ~lr whatever
the gradient's scale, so a huge, uniform distillation gradient drives a bounded
student into saturation within the first epoch.
Signal: outputs at the tanh bound after epoch 1 (``mode_collapse``).
Fix: the report's ``SGD(lr, momentum=0.9, weight_decay=1e-5, nesterov=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr: float | None = Field(None, gt=0, description="learning rate (None: the scenario's train.lr)")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-5, ge=0)
    nesterov: bool = True


class SGDNesterov(Plugin):
    name = "sgd_nesterov"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("mode_collapse",)

    @hookimpl
    def make_optimizer(self, state: TrainState) -> Optimizer:
        import torch

        p = self.params
        lr = p.lr if p.lr is not None else state.hparams.lr
        return torch.optim.SGD(
            state.model.parameters(), lr=lr, momentum=p.momentum, weight_decay=p.weight_decay, nesterov=p.nesterov
        )

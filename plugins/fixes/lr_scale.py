"""Scale the learning rate by a constant factor (lower it, usually).

Pathology: a learning rate far too high for the model and optimizer: the loss
oscillates or explodes, predictions collapse, units die (see ``bug_lr_too_high``).
Signal: ``loss_oscillation``, ``loss_explosion``, ``grad_explosion``, ``nan``, ``collapse``.
Fix: ``hparams.lr *= factor`` in ``on_setup``, before the optimizer and scheduler are
built; ``harness doctor`` tries 0.1 and 0.01. A product, so it composes with every
other LR change in ``on_setup`` (``lr_scaling``) whatever the order.

On a script (``acts_on_scripts``): every optimizer's group LRs times ``factor`` as the script
builds it, before it builds a scheduler, so the script's own schedule runs on the scaled LR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: float = Field(0.1, gt=0, description="the LR is multiplied by this")


class LRScale(Plugin):
    name = "lr_scale"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = (
        "loss_oscillation",
        "loss_explosion",
        "grad_explosion",
        "nan",
        "collapse",
        "dead_units",
        "near_collapse",
        "grad_vanishing",
        "no_convergence",
    )
    suggestions = ({"factor": 0.1}, {"factor": 0.01})
    acts_on_scripts = True
    script_edit_site = "optimizer"

    def script_edit(self, lr: float | None = None) -> str:
        factor = self.params.factor
        if lr is None:
            return f"multiply the learning rate by {factor:g}"
        return f"lr={lr:.3g} -> lr={lr * factor:.3g} (x{factor:g})"

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        state.hparams.lr *= self.params.factor

    def script_optimizer(self, optimizer: Any) -> None:
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * self.params.factor

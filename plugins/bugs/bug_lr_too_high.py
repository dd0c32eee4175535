"""Bug: a learning rate far too high (by default 100x the configured one).

Pathology: an LR copied from another optimizer or batch size, a missing ``e-`` in
``1e-3``, or an LR finder read at the wrong end: every step overshoots, the loss jumps
around instead of falling, weights blow up or units die, and the model often ends up
predicting one class. Under Adam(W) the step size is ~``lr`` whatever the gradient, so
the damage is noise and collapse; under SGD the loss explodes or turns non-finite.
Signal: the training loss oscillates (``loss_oscillation``) or explodes
(``loss_explosion``, ``nan``), gradients spike (``grad_explosion``), predictions collapse
(``collapse``), ReLUs die (``dead_units``), the loss does not converge (``no_convergence``).
Fix: lower the LR (``lr_scale: {factor: 0.01}`` undoes a 100x, or set ``train.lr``), and
warm it up; clipping (``grad_clip``) bounds SGD's steps but not Adam's.

Mechanism: ``hparams.lr`` is multiplied by ``factor`` in ``on_setup``, before the
optimizer and scheduler are built (a product, so it composes with ``lr_scaling`` and
``lr_scale`` whatever their order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: float = Field(100.0, gt=1, description="how many times too high the LR is")


class BugLRTooHigh(Plugin):
    name = "bug_lr_too_high"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = (
        "loss_oscillation",
        "loss_explosion",
        "nan",
        "grad_explosion",
        "bad_initial_loss",
        "collapse",
        "dead_units",
        "no_convergence",
        "mode_collapse",
        "no_signal",
    )

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        state.hparams.lr *= self.params.factor

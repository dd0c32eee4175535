"""Bug: the loss is scaled wrongly: summed instead of averaged, or not divided under accumulation.

Pathology: ``reduction='sum'`` where the LR was tuned for a mean (the gradient is
``batch_size`` times too large), or an accumulation loop that forgets to divide each
micro-batch's loss by ``accumulation_steps`` (``not_divided``: ``accumulation_steps`` times
too large) or divides twice (``divided_twice``: too small). Under SGD the step is
``lr x gradient``, so the effective LR is off by that factor: too large explodes or turns
the loss non-finite, too small barely trains. Adam(W) normalises the gradient's scale away,
so there the mistake is nearly harmless (only its ``eps`` changes).
Signal: the loss itself is off by the factor from the first batch (summed: far above
``log(C)``, ``bad_initial_loss``); under SGD the loss and gradients explode
(``loss_explosion``, ``grad_explosion``, ``nan``) or oscillate (``loss_oscillation``);
divided twice, the loss does not converge.
Fix: a mean loss (``reduction='mean'``) and ``loss / accumulation_steps`` exactly once
(as the harness loop does): switch this bug off; ``grad_clip`` bounds SGD's steps meanwhile.

Mechanism: the criterion (whichever plugin built it) is wrapped (a ``make_criterion``
wrapper, so it takes no slot) and its loss multiplied by the batch size (``sum``), by
``accumulation_steps`` (``not_divided``) or divided by it (``divided_twice``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["sum", "not_divided", "divided_twice"] = Field("sum", description="which scaling mistake")


def batch_size_of(batch: dict[str, Any]) -> int:
    labels = batch.get("labels")
    if labels is not None:
        return int(labels.shape[0])
    return int(next(iter(batch.values())).shape[0])


class BugLossScaling(Plugin):
    name = "bug_loss_scaling"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = (
        "bad_initial_loss",
        "loss_explosion",
        "grad_explosion",
        "nan",
        "loss_oscillation",
        "no_convergence",
        "collapse",
        "dead_units",
    )

    @hookimpl(wrapper=True)
    def make_criterion(self, state: TrainState) -> Any:
        criterion = yield
        mode, accumulation = self.params.mode, state.hparams.accumulation_steps

        def wrongly_scaled(outputs: Any, batch: dict[str, Any]) -> Any:
            loss = criterion(outputs, batch)
            if mode == "sum":
                return loss * batch_size_of(batch)
            if mode == "not_divided":
                return loss * accumulation
            return loss / accumulation

        return wrongly_scaled

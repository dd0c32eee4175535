"""Bug: every layer but the output layer is frozen by mistake (``requires_grad=False``).

Pathology: code meant for a linear probe or a first fine-tuning stage
(``for p in model.backbone.parameters(): p.requires_grad = False``) stays in the final
training, or the unfreeze step never runs: the backbone gets no gradients and only the
head learns, on random (or pretrained but unadapted) features. The loss falls a little
and plateaus; the optimizer still holds every parameter, at a non-zero LR.
Signal: most of the parameters receive no gradient in an epoch although their
optimizer group's LR is above 0 (``frozen_parameters``, from the ``weight_updates``
monitor).
Fix: set ``requires_grad=True`` on the parameters to train before building the optimizer
(or unfreeze on schedule, as ``two_stage`` does, which also sets the frozen group's LR
to 0): switch this bug off.

Mechanism: in ``on_setup`` every parameter outside the output layer (the module
registered last among those that hold parameters; ``keep_last`` of them) gets
``requires_grad_(False)``; the optimizer is built over all parameters as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_last: PositiveInt = Field(1, description="parameter-holding modules, counted from the end, left trainable")


def trainable_tail(model: Any, keep_last: int) -> set[int]:
    """``id()`` of the parameters of the last ``keep_last`` parameter-holding modules."""
    owners = [m for _, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    return {id(p) for m in owners[-keep_last:] for p in m.parameters(recurse=False)}


class BugFrozenBackbone(Plugin):
    name = "bug_frozen_backbone"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = ("frozen_parameters", "no_convergence")

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        keep = trainable_tail(state.model, self.params.keep_last)
        for param in state.model.parameters():
            if id(param) not in keep:
                param.requires_grad_(False)

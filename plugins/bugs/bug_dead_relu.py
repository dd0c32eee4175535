"""Bug: dead ReLUs from a large negative bias initialisation.

Pathology: a custom init (``nn.init.constant_(layer.bias, -10)``, a bias meant for a
sigmoid gate, a badly restored checkpoint) puts every pre-activation of a ReLU/GELU
layer far below zero: its units output 0 for every input and pass back no gradient, so
they never recover ("dying ReLU"). With the first layer dead the whole network outputs
a constant: predictions collapse and the loss stays at the class prior.
Signal: nearly every unit of a rectifier layer is never positive over an epoch
(``dead_units``, from the ``dead_units`` monitor); gradients of the layers below vanish;
the loss does not converge; predictions collapse.
Fix: initialise biases at 0 (or a small positive value for ReLU layers): ``bias_init``
re-initialises them before training; or use LeakyReLU.

Mechanism: in ``on_setup`` the bias of every Linear/Conv layer that feeds a rectifier
activation module (ReLU, GELU, SiLU; the layer registered just before it) is set to
``bias`` (default -10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.model_parts import layers_feeding_rectifiers

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bias: float = Field(-10.0, lt=0, description="the bias every layer feeding a rectifier starts at")


class BugDeadReLU(Plugin):
    name = "bug_dead_relu"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = ("dead_units", "grad_vanishing", "no_convergence", "collapse", "mode_collapse", "no_signal")

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        import torch

        layers = layers_feeding_rectifiers(state.model)
        if not layers:
            raise ValueError("bug_dead_relu: the model has no Linear/Conv layer feeding a ReLU/GELU/SiLU module")
        with torch.no_grad():
            for _, layer in layers:
                layer.bias.fill_(self.params.bias)

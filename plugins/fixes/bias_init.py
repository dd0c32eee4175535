"""Re-initialise the biases of the layers that feed rectifiers, before training starts.

Pathology: dying ReLUs: a bias initialisation far below zero (or a restored checkpoint
with such biases) keeps every unit of a ReLU/GELU layer negative, so it outputs 0 and
passes back no gradient; with the first layer dead the network outputs a constant.
Signal: ``dead_units`` (nearly every unit of a rectifier layer never positive over an
epoch); ``grad_vanishing`` below it; ``collapse``.
Fix: the usual init: the bias of every Linear/Conv layer feeding a ReLU/GELU/SiLU module
set to ``value`` (0, or a small positive value such as 0.01 for ReLU layers), in
``on_train_start`` (after any ``on_setup`` initialisation). Only those biases change; for
a model trained from scratch (a pretrained model would lose its learnt biases).
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
    value: float = Field(0.0, ge=0, description="the bias of every layer feeding a rectifier")


class BiasInit(Plugin):
    name = "bias_init"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("dead_units", "grad_vanishing")

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        import torch

        with torch.no_grad():
            for _, layer in layers_feeding_rectifiers(state.model):
                layer.bias.fill_(self.params.value)

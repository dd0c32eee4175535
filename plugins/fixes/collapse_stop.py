"""Stop training after consecutive collapsed epochs (issue 11, Fix 6).

Pathology: a collapsed run keeps burning compute for epochs that cannot recover.
Signal: validation predictions single-class for ``patience`` consecutive epochs
(same test as the ``prediction_distribution`` monitor, computed independently so it
works with the monitor off).
Fix: request a stop from ``start_epoch`` on (the incident checks from the 3rd epoch, so
a slow first epoch under warmup is not mistaken for collapse); the run ends with
status ``stopped``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.monitors.prediction_distribution import is_collapsed, predicted_counts

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patience: PositiveInt = Field(2, description="consecutive collapsed epochs before stopping")
    start_epoch: PositiveInt = Field(3, description="never stop before this epoch (issue 11: the 3rd)")
    min_share: float = Field(0.0, ge=0, lt=0.5)


class CollapseStop(Plugin):
    name = "collapse_stop"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.streak = 0

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        if not predicted_counts(metrics):
            return
        self.streak = self.streak + 1 if is_collapsed(metrics, self.params.min_share) else 0
        if self.streak >= self.params.patience and state.epoch >= self.params.start_epoch:
            state.request_stop(f"collapse for {self.streak} consecutive epochs")

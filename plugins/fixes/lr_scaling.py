"""Learning-rate scaling for large batches (issue 11, Fix 7).

Pathology: an LR tuned for batch 16 (2e-5) used unchanged at batch 64 is effectively
too low: slow, unstable convergence.
Signal: slow or no progress of the loss at a large batch size.
Fix: ``lr * sqrt(batch / base_batch)`` (square-root rule; ``linear`` optional) for the
effective batch (``batch_size * accumulation_steps``), and the warmup ratio scaled by the
same factor and capped at 20%. (Total steps are always counted in optimizer steps by the
core; v1.5's batches-as-steps is ``linear_warmup``'s ``count_steps_in: batches``.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


def scale_factor(batch_size: int, base_batch_size: int, rule: str = "sqrt") -> float:
    """The LR multiplier for ``batch_size`` (1.0 at or below the base batch)."""
    if batch_size <= base_batch_size:
        return 1.0
    ratio = batch_size / base_batch_size
    return math.sqrt(ratio) if rule == "sqrt" else ratio


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_batch_size: PositiveInt = Field(16, description="batch size the base LR was tuned for")
    rule: Literal["sqrt", "linear"] = "sqrt"
    max_warmup_ratio: float = Field(0.2, ge=0, le=1, description="cap of the scaled warmup ratio")


class LRScaling(Plugin):
    name = "lr_scaling"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        hp = state.hparams
        effective_batch = hp.batch_size * hp.accumulation_steps
        factor = scale_factor(effective_batch, self.params.base_batch_size, self.params.rule)
        hp.lr = hp.lr * factor
        if factor > 1.0:
            hp.warmup_ratio = min(hp.warmup_ratio * factor, self.params.max_warmup_ratio)

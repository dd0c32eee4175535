"""Gradient-health monitor: records ``grad_explosion`` (norm > 10) and ``grad_vanishing`` (< 1e-6).

Pathology: a scale mismatch makes gradients explode (steps far off the loss surface);
a saturated tanh student makes them vanish (nothing learns any more).
Signal: the total L2 norm of all gradients at an optimizer step, before clipping (the
report: alert above 10 or below 1e-6).
Fix: none; this monitor only observes. The norm is computed with torch ops each step and
buffered as a tensor; it is read once per epoch, and the epoch's max/mean are added to
the history (``grad_norm_max``, ``grad_norm_mean``). At most one finding per kind per epoch.

It reads the gradients in ``on_after_backward``, which fires once per optimizer step
before ``on_before_optimizer_step`` (where ``grad_clip`` or any other plugin may change
them) and after mixed precision unscaled them: it sees the raw norm whatever clips and
wherever a plugin is registered.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.monitoring import StepSeries, total_grad_norm
from harness.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_norm: float | None = Field(10.0, gt=0, description="grad_explosion above this norm (None: off)")
    min_norm: float | None = Field(1e-6, ge=0, description="grad_vanishing below this norm (None: off)")


class GradHealth(Plugin):
    name = "grad_health"
    kind = "monitor"
    Params = Params
    finding_kinds = ("grad_explosion", "grad_vanishing")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.series = StepSeries()
        self._model: Any = None
        self._parameters: list[Any] = []

    @hookimpl
    def on_after_backward(self, state: Any) -> None:
        if state.model is not self._model:  # model.parameters() walks every module: list them once
            self._model, self._parameters = state.model, list(state.model.parameters())
        norm = total_grad_norm(self._parameters)
        if norm is not None:
            self.series.add(state.step + 1, norm)  # the step about to be taken

    def check(self, state: Any, metrics: dict[str, Any] | None) -> None:
        steps, norms = self.series.drain()
        if not steps:
            return
        finite = [n for n in norms if math.isfinite(n)]
        if metrics is not None and finite:
            metrics["grad_norm_max"] = max(finite)
            metrics["grad_norm_mean"] = sum(finite) / len(finite)
        p = self.params
        tests = (
            ("grad_explosion", p.max_norm, lambda n: n > p.max_norm, ">"),
            ("grad_vanishing", p.min_norm, lambda n: n < p.min_norm, "<"),
        )
        for kind, threshold, hit, sign in tests:
            if threshold is None:
                continue
            hits = [i for i, n in enumerate(norms) if math.isfinite(n) and hit(n)]
            if hits:
                i = hits[0]
                state.add_finding(
                    kind,
                    self.name,
                    f"step {steps[i]} gradient norm {norms[i]:.3g} {sign} {threshold:g} "
                    f"({len(hits)} of {len(steps)} steps this epoch)",
                    step=steps[i],
                    value=norms[i],
                )

    @hookimpl
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        self.check(state, metrics)

    @hookimpl
    def on_train_end(self, state: Any) -> None:
        self.check(state, None)

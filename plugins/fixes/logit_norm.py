"""Logit normalization and clamping against saturation (|logit| > 100).

Pathology: teacher logits far beyond +-100 (down to -1190) saturate anything they feed:
``sigmoid`` is exactly 0 or 1 there and its gradient vanishes; an unbounded student
logit fed to BCE can overflow the same way.
Signal: ``saturation`` (max |logit| > 100 on validation).
Fix: the report's ``normalize_logits``: when a batch's teacher logits exceed +-``threshold``,
z-score them over the batch and clamp to +-``clamp`` (done in ``on_batch``, so every
consumer of ``batch["teacher_logits"]`` sees the normalized values); and the report's
``torch.clamp(student_image_logit, -100, 100)`` before the task loss (the criterion,
whichever plugin built it, is wrapped).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl


def normalize_logits(logits: Any, threshold: float = 100.0, clamp: float = 10.0) -> Any:
    """z-score and clamp ``logits`` when ``max |logits| > threshold``; unchanged otherwise (no host sync)."""
    import torch

    z = ((logits - logits.mean()) / (logits.std() + 1e-6)).clamp(-clamp, clamp)
    return torch.where(logits.abs().amax() > threshold, z, logits)


def clamp_outputs(outputs: Any, limit: float) -> Any:
    """Outputs with the logits the task loss reads clamped to +-``limit``.

    A plain tensor is clamped; a dataclass with ``image_logit`` gets a clamped copy of it.
    """
    # is_dataclass is also true of a dataclass's class; the workload returns an instance
    if dataclasses.is_dataclass(outputs) and not isinstance(outputs, type) and hasattr(outputs, "image_logit"):
        return dataclasses.replace(outputs, image_logit=outputs.image_logit.clamp(-limit, limit))
    return outputs.clamp(-limit, limit)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(100.0, gt=0, description="normalize teacher logits when |logit| exceeds this")
    clamp: float = Field(10.0, gt=0, description="clamp normalized teacher logits to +-clamp")
    output_clamp: float | None = Field(100.0, gt=0, description="clamp the task loss's logits (None: off)")


class LogitNorm(Plugin):
    name = "logit_norm"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("saturation",)

    def unused_hooks(self) -> frozenset[str]:
        return frozenset({"make_criterion"} if self.params.output_clamp is None else set())

    @hookimpl
    def on_batch(self, batch: dict[str, Any]) -> None:
        if "teacher_logits" in batch:
            batch["teacher_logits"] = normalize_logits(
                batch["teacher_logits"], self.params.threshold, self.params.clamp
            )

    @hookimpl(wrapper=True)
    def make_criterion(self) -> Any:
        criterion = yield
        limit = self.params.output_clamp
        if criterion is None or limit is None:  # pragma: no cover - unused_hooks skips it then
            return criterion
        return lambda outputs, batch: criterion(clamp_outputs(outputs, limit), batch)

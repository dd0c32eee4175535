"""Variance penalty: reward output variance while it is below a threshold (mode collapse).

Pathology: the student can minimise the loss by emitting the same value for every patch
(every patch pushed to the teacher's mean, or to a tanh bound): its output variance -> 0.
Signal: ``mode_collapse`` (validation std of the patch logits < 1e-4).
Fix: the report's ``ModeCollapsePrevention``: while the batch variance of the student's
patch logits is below ``threshold``, add ``-weight * variance`` to the loss, whose
gradient pushes patches apart; above the threshold the term is 0. Measured: alone it
cannot pull a saturated tanh back (its gradient vanishes too). The term is the named
loss term ``variance`` (weight ``hparams.loss_weights["variance"]``, 1 unless set).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl


def variance_penalty(x: Any, threshold: float, weight: float = 1.0) -> Any:
    """``-weight * var(x)`` when ``var(x) < threshold``, else 0 (a tensor; no host sync)."""
    import torch

    var = x.float().var()
    return torch.where(var < threshold, -weight * var, torch.zeros_like(var))


def student_outputs(outputs: Any) -> Any:
    """The student's per-patch logits, or the outputs themselves when they are one tensor."""
    return getattr(outputs, "patch_logits", outputs)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(1e-2, gt=0, description="penalize while the output variance is below this")
    weight: float = Field(1.0, gt=0, description="scale of the penalty")


class VariancePenalty(Plugin):
    name = "variance_penalty"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("mode_collapse",)

    @hookimpl
    def extra_losses(self, outputs: Any) -> dict[str, Any]:
        return {"variance": variance_penalty(student_outputs(outputs), self.params.threshold, self.params.weight)}

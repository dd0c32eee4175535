"""Scale matching: normalize teacher and student logits before the distillation loss.

Pathology: the teacher's patch logits live on [-1190, +8], the student's on [-2, +4]
(bounded by ``1 + 3*tanh``). A distillation loss on raw logits pushes every student
patch towards the teacher's huge negative mean: the tanh saturates at -2, gradients
vanish and the student's output variance collapses (std -> 1e-5, AUC 0.5).
Signal: ``mode_collapse`` (output std < 1e-4), ``loss_explosion`` (distillation loss in
the hundreds or more), ``no_signal`` (AUC <= 0.5).
Fix: before the loss, map both to zero mean / unit std over the batch (``zscore``, the
report's ``LayerNormalizer``) so only the *shape* of the teacher's scores is distilled.
With a heavy-tailed teacher (0.2% of patches stretched to -1190) the teacher's mean and
std are dominated by the outliers and its body is squashed to ~0 (measured: AUC ~0.5
at batch 64), so ``robust`` scales the teacher by its median and IQR (scaled to a
Gaussian's std) and clips it to +-``clip``. The student is always z-scored: it is
bounded, so it has no outliers, and median/IQR of a student whose patches pile up at a
bound is degenerate (IQR -> 0; measured: the run collapses to the bound, AUC 0.5);
clipping the student would also zero the gradient of the patches that stand out.

This plugin answers ``distill_inputs``, the hook the ``distillation`` plugin raises
with the (student, teacher) logits before it compares them, so each can be switched on
and off on its own and the trace shows it acted on every batch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

IQR_TO_STD = 1.3489795  # IQR of a standard normal distribution
ROBUST_CLIP = 10.0  # default clip of the robust method, in robust std units


def zscore(x: Any, eps: float = 1e-6, clip: float | None = None) -> Any:
    """``(x - mean) / (std + eps)`` over the whole tensor (all patches of the batch), optionally clipped."""
    z = (x - x.mean()) / (x.std() + eps)
    return z.clamp(-clip, clip) if clip is not None else z


def robust_scale(x: Any, eps: float = 1e-6, clip: float | None = ROBUST_CLIP) -> Any:
    """``(x - median) / (IQR / 1.349 + eps)`` over the whole tensor, clipped to +-``clip``.

    For Gaussian data this equals the z-score; a few extreme outliers move neither the
    median nor the IQR, so the body of the distribution keeps its spread.
    """
    import torch

    flat = x.flatten().float()
    q = torch.quantile(flat, torch.tensor([0.25, 0.5, 0.75], device=flat.device, dtype=flat.dtype))
    scale = (q[2] - q[0]) / IQR_TO_STD
    z = (x - q[1]) / (scale + eps)
    return z.clamp(-clip, clip) if clip is not None else z


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["zscore", "robust"] = Field("zscore", description="zscore (mean/std) or robust (median/IQR)")
    clip: float | None = Field(
        None, gt=0, description="clip the normalized teacher to +-clip (unset: none for zscore, 10 for robust)"
    )
    eps: float = Field(1e-6, gt=0, description="added to the scale")


class ScaleMatching(Plugin):
    name = "scale_matching"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("mode_collapse", "loss_explosion", "no_signal", "saturation")

    def normalize(self, student: Any, teacher: Any) -> tuple[Any, Any]:
        """Both logits on a common scale: the student z-scored, the teacher by ``method``."""
        p = self.params
        if p.method == "robust":
            clip = ROBUST_CLIP if p.clip is None else p.clip
            return zscore(student, p.eps), robust_scale(teacher, p.eps, clip)
        return zscore(student, p.eps), zscore(teacher, p.eps, p.clip)

    @hookimpl
    def distill_inputs(self, student: Any, teacher: Any) -> tuple[Any, Any]:
        return self.normalize(student, teacher)

"""Distillation loss between student and teacher patch logits: MSE (v-old) or KL with temperature.

Pathology: v-old added ``MSE(student_patches, teacher_patches)`` on raw logits. MSE is
scale-sensitive: with the teacher on [-1190, +8] and the student bounded on [-2, +4] the
term is ~1e6, its gradient drives every patch to the same bound, and training collapses.
Signal: a huge, "exploding" loss (``loss_explosion``), then ``mode_collapse``.
Fix: the report's ``use_kl_loss=True, temperature=4``: KL divergence between the
temperature-softened teacher and student distributions, times ``T**2`` (Hinton et al.).
``kl_over: patches`` softens each image's patch logits with a softmax over its patches
(where in the image the anomaly is); ``binary`` treats every patch logit as a Bernoulli.
Measured on the replay (3 seeds, raw logits, no other fix): ``kl_over: binary`` does not
cure the collapse (AUC 0.44-0.51: ``sigmoid(t / 4)`` is ~0 for every patch of a teacher
on [-1190, +8]); ``kl_over: patches`` does (AUC 0.97-0.98), because a softmax over an
image's patches is shift-invariant, so the teacher's -1190 offset cancels and only where
the anomaly is remains. Neither is scale-invariant, so the fix pairs it with ``scale_matching``.

The term is the named loss term ``distill`` of ``extra_losses``; the core weights it by
``hparams.loss_weights["distill"]`` (set by ``loss_weights``; 1 when off). Before
comparing, it raises ``distill_inputs(state, student, teacher)``, which a plugin such as
``scale_matching`` answers with both logits on a common scale (unchanged when none
does). Neither plugin knows the other. The epoch's mean unweighted term is added to the
history as ``distill_loss``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


def mse_distill(student: Any, teacher: Any) -> Any:
    """Mean squared error over every patch."""
    import torch.nn.functional as F

    return F.mse_loss(student, teacher)


def kl_distill(student: Any, teacher: Any, temperature: float, over: str = "patches") -> Any:
    """``T**2 * KL(teacher_T || student_T)``, averaged over images (``patches``) or patches (``binary``).

    ``patches``: ``p = softmax(logits / T)`` over the patches of each image (``(batch, patches)``).
    ``binary``: ``p = sigmoid(logits / T)`` per patch, KL of two Bernoulli distributions.
    """
    import torch.nn.functional as F

    T = temperature
    if over == "patches":
        log_p_t = F.log_softmax(teacher / T, dim=-1)
        log_p_s = F.log_softmax(student / T, dim=-1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=-1).mean()
    else:
        log_t1, log_t0 = F.logsigmoid(teacher / T), F.logsigmoid(-teacher / T)
        log_s1, log_s0 = F.logsigmoid(student / T), F.logsigmoid(-student / T)
        kl = (log_t1.exp() * (log_t1 - log_s1) + log_t0.exp() * (log_t0 - log_s0)).mean()
    return kl * (T * T)


def student_teacher(outputs: Any) -> tuple[Any, Any]:
    """The student's and the teacher's patch logits of a workload's outputs."""
    try:
        return outputs.patch_logits, outputs.teacher_logits
    except AttributeError:
        raise TypeError(
            "distillation needs outputs with .patch_logits and .teacher_logits "
            f"(the patch_distillation workload); got {type(outputs).__name__}"
        ) from None


#: the name of this plugin's loss term (its weight: ``hparams.loss_weights["distill"]``)
DISTILL_TERM = "distill"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loss: Literal["mse", "kl"] = Field("kl", description="mse (v-old) or kl (the report's fix)")
    temperature: float = Field(4.0, gt=0, description="KL softening temperature (report: 4)")
    kl_over: Literal["patches", "binary"] = Field("patches", description="KL over each image's patches or per patch")


class Distillation(Plugin):
    name = "distillation"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.terms: list[Any] = []

    def term(self, student: Any, teacher: Any) -> Any:
        if self.params.loss == "mse":
            return mse_distill(student, teacher)
        return kl_distill(student, teacher, self.params.temperature, self.params.kl_over)

    @hookimpl
    def extra_losses(self, state: TrainState, outputs: Any) -> dict[str, Any]:
        student, teacher = student_teacher(outputs)
        student, teacher = student.float(), teacher.float().detach()
        matched = self.hook.distill_inputs(state=state, student=student, teacher=teacher) if self.hook else None
        if matched is not None:
            student, teacher = matched
        value = self.term(student, teacher)
        self.terms.append(value.detach())
        return {DISTILL_TERM: value}

    @hookimpl
    def on_epoch_end(self, metrics: dict[str, Any]) -> None:
        if self.terms:
            import torch

            metrics["distill_loss"] = float(torch.stack(self.terms).mean())
            self.terms = []

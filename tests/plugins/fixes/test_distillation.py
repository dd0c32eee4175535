"""distillation: MSE (v-old) or KL with temperature between student and teacher patch logits."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.fixes.distillation import DISTILL_TERM, Distillation, kl_distill, mse_distill
from harness.testing import bare_state, tiny_patch_workload, tiny_workload, train_tiny
from harness.workloads.patch_distillation import PatchOutputs


def test_kl_over_patches_matches_a_hand_computation() -> None:
    student = torch.tensor([[0.0, 1.0, 2.0]])
    teacher = torch.tensor([[4.0, 0.0, -4.0]])
    T = 4.0
    p = [math.exp(t / T) for t in (4.0, 0.0, -4.0)]
    p = [x / sum(p) for x in p]
    q = [math.exp(s / T) for s in (0.0, 1.0, 2.0)]
    q = [x / sum(q) for x in q]
    expected = T * T * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=False))
    assert float(kl_distill(student, teacher, T, "patches")) == pytest.approx(expected, rel=1e-5)


def test_binary_kl_matches_a_hand_computation() -> None:
    student, teacher, T = torch.tensor([[0.5, -1.0]]), torch.tensor([[2.0, -8.0]]), 4.0
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    total = 0.0
    for s, t in ((0.5, 2.0), (-1.0, -8.0)):
        p, q = sig(t / T), sig(s / T)
        total += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert float(kl_distill(student, teacher, T, "binary")) == pytest.approx(T * T * total / 2, rel=1e-5)


def test_kl_is_zero_for_identical_logits_and_mse_is_plain_mse() -> None:
    x = torch.randn(4, 16)
    assert float(kl_distill(x, x, 4.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(mse_distill(x, x + 2)) == pytest.approx(4.0)


def _outputs() -> PatchOutputs:
    torch.manual_seed(0)
    patches = torch.rand(2, 16) * 6 - 2
    return PatchOutputs(patches, patches.amax(1), torch.empty(2, 16).uniform_(-1190, 8))


def test_the_term_is_named_distill_and_unweighted() -> None:
    out = _outputs()
    terms = Distillation(Distillation.Params(loss="mse")).extra_losses(bare_state(), out)
    assert list(terms) == [DISTILL_TERM] == ["distill"]  # the core weights it (hparams.loss_weights)
    assert float(terms["distill"]) == pytest.approx(float(mse_distill(out.patch_logits, out.teacher_logits)))


class _Zeroing(Plugin):
    """Test double. Pathology: none. Signal: none. Fix: answers distill_inputs with zeros."""

    name = "zero_inputs"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.seen: list[tuple[bool, bool]] = []

    @hookimpl
    def distill_inputs(self, student: Any, teacher: Any) -> tuple[Any, Any]:
        self.seen.append((student.requires_grad, teacher.requires_grad))
        return student * 0, teacher * 0


def test_it_raises_distill_inputs_and_compares_what_the_answer_returns() -> None:
    """The channel to scale_matching (or any plugin) is the distill_inputs hook, not a dict."""
    run = train_tiny(
        {"distillation": {"loss": "mse"}, "zero_inputs": True},
        extra=(_Zeroing,),
        workload=tiny_patch_workload(),
        epochs=1,
        batch_size=32,
    )
    assert run.trace["distill_inputs"] == {"zero_inputs": 4}  # once per batch, raised by distillation
    assert run.history[0]["distill_loss"] == 0.0
    plain = train_tiny({"distillation": {"loss": "mse"}}, workload=tiny_patch_workload(), epochs=1, batch_size=32)
    assert "distill_inputs" not in plain.trace and plain.history[0]["distill_loss"] > 1e5  # no answer: raw logits


def test_the_teacher_gets_no_gradient_the_student_does() -> None:
    out = _outputs()
    out.patch_logits.requires_grad_(True)
    out.teacher_logits.requires_grad_(True)
    Distillation().extra_losses(bare_state(), out)["distill"].backward()
    assert out.patch_logits.grad is not None and out.teacher_logits.grad is None


def test_history_gets_the_epoch_mean_distill_loss_and_the_loss_includes_it() -> None:
    workload = tiny_patch_workload()
    task_only = train_tiny({}, workload=workload, epochs=1, batch_size=32)
    run = train_tiny({"distillation": {"loss": "mse"}}, workload=workload, epochs=1, batch_size=32)
    assert "distill_loss" not in task_only.history[0]
    assert run.history[0]["distill_loss"] > 1e5
    assert run.history[0]["loss"] == pytest.approx(
        task_only.history[0]["loss"] + run.history[0]["distill_loss"], rel=1e-3
    )
    assert run.trace["extra_losses"] == {"distillation": 4}


def test_a_workload_without_teacher_logits_fails_with_a_clear_message() -> None:
    run = None
    with pytest.raises(Exception, match="patch_logits"):
        run = train_tiny({"distillation": True}, workload=tiny_workload(), epochs=1)
    assert run is None

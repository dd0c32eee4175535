"""variance_penalty: -weight * var(outputs) while the variance is under the threshold."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.fixes.variance_penalty import VariancePenalty, variance_penalty
from harness.testing import tiny_patch_workload, train_tiny
from harness.workloads.patch_distillation import PatchOutputs


def test_penalty_value_and_gradient_below_the_threshold() -> None:
    x = torch.tensor([1.0, 1.01, 0.99, 1.02], requires_grad=True)
    penalty = variance_penalty(x, threshold=1e-2, weight=2.0)
    var = float(x.detach().var())
    assert float(penalty.detach()) == pytest.approx(-2.0 * var)
    penalty.backward()
    n = x.numel()
    expected = -2.0 * 2 * (x.detach() - x.detach().mean()) / (n - 1)  # d(-w var)/dx
    assert torch.allclose(x.grad, expected)
    # the gradient pushes the outputs apart: a descent step raises the variance
    assert float((x.detach() - 0.1 * x.grad).var()) > var


def test_no_penalty_and_no_gradient_above_the_threshold() -> None:
    x = torch.tensor([-2.0, 4.0, 0.0, 1.0], requires_grad=True)
    penalty = variance_penalty(x, threshold=1e-2)
    assert float(penalty.detach()) == 0.0
    penalty.backward()
    assert torch.count_nonzero(x.grad) == 0


def test_plugin_reads_the_student_patch_logits() -> None:
    patches = torch.full((2, 16), -2.0)
    patches[0, 0] = -1.99
    out = PatchOutputs(patches, patches.amax(1), torch.zeros(2, 16))
    terms = VariancePenalty().extra_losses(out)
    assert list(terms) == ["variance"]  # a named loss term (its weight: hparams.loss_weights["variance"])
    assert float(terms["variance"]) == pytest.approx(-float(patches.var()))


def test_in_a_run_it_adds_a_term_every_batch() -> None:
    run = train_tiny({"variance_penalty": {"threshold": 10.0}}, workload=tiny_patch_workload(), epochs=1, batch_size=32)
    plain = train_tiny({}, workload=tiny_patch_workload(), epochs=1, batch_size=32)
    assert run.trace["extra_losses"] == {"variance_penalty": 4}
    assert run.history[0]["loss"] < plain.history[0]["loss"]  # -var was added

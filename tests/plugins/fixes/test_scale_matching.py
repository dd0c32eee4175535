"""scale_matching: both logits z-scored (or the teacher robustly) before the distillation loss."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.fixes.scale_matching import ScaleMatching, robust_scale, zscore
from harness.testing import tiny_patch_workload, train_tiny


def test_zscore_gives_zero_mean_unit_std_on_the_incident_scales() -> None:
    teacher = torch.empty(64, 16).uniform_(-1190, 8)
    student = 1 + 3 * torch.tanh(torch.randn(64, 16) * 0.05)
    for x in (teacher, student):
        z = zscore(x)
        assert float(z.mean()) == pytest.approx(0.0, abs=1e-5)
        assert float(z.std()) == pytest.approx(1.0, abs=1e-4)
    assert float(zscore(teacher, clip=1.5).abs().max()) == pytest.approx(1.5)


def test_robust_scale_keeps_the_body_spread_when_outliers_squash_the_zscore() -> None:
    torch.manual_seed(0)
    body = torch.randn(1024) * 2 + 3  # the heavy-tailed teacher's body
    teacher = body.clone()
    teacher[:2] = torch.tensor([-1190.0, -700.0])  # 0.2% outliers
    z_body = zscore(teacher)[2:]
    r_body = robust_scale(teacher, clip=10.0)[2:]
    assert float(z_body.std()) < 0.1  # plain z-scoring flattens the body
    assert float(r_body.std()) == pytest.approx(1.0, abs=0.15)  # median/IQR does not
    assert float(robust_scale(teacher, clip=10.0).min()) == -10.0  # outliers clipped
    # on Gaussian data the robust scale is the z-score
    g = torch.randn(100_000)
    assert float((robust_scale(g, clip=None) - zscore(g)).abs().max()) < 0.05


def test_plugin_answers_distill_inputs_with_both_logits_rescaled() -> None:
    teacher = torch.empty(8, 16).uniform_(-1190, 8)
    student = torch.rand(8, 16) * 6 - 2
    s, t = ScaleMatching(ScaleMatching.Params(method="zscore")).distill_inputs(student, teacher)
    assert torch.allclose(s, zscore(student)) and torch.allclose(t, zscore(teacher))
    s, t = ScaleMatching(ScaleMatching.Params(method="robust")).distill_inputs(student, teacher)
    assert torch.allclose(s, zscore(student))  # the bounded student is always z-scored
    assert torch.allclose(t, robust_scale(teacher, clip=10.0))


def test_with_scale_matching_the_distillation_term_is_order_one_instead_of_1e5() -> None:
    workload = tiny_patch_workload()
    raw = train_tiny({"distillation": {"loss": "mse"}}, workload=workload, epochs=1, batch_size=32)
    matched = train_tiny(
        {"distillation": {"loss": "mse"}, "scale_matching": {"method": "zscore"}},
        workload=workload,
        epochs=1,
        batch_size=32,
    )
    assert raw.history[0]["distill_loss"] > 1e5
    assert matched.history[0]["distill_loss"] < 4.0  # MSE of two z-scored tensors is at most 4
    assert matched.trace["distill_inputs"] == {"scale_matching": 4}  # it acted on every batch
    assert "on_setup" not in matched.trace  # nothing published through the state

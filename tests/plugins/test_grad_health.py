"""grad_health monitor: grad_explosion (total norm > 10) and grad_vanishing (< 1e-6)."""

from __future__ import annotations

import pytest
import torch

from harness.monitoring import total_grad_norm
from harness.plugins.grad_health import GradHealth
from harness.testing import bare_state, tiny_patch_workload, tiny_workload, train_tiny


def scripted(norms_per_epoch: list[list[float]], params=None):
    """Give a 2-element parameter gradients of the scripted norms, step by step."""
    weight = torch.nn.Parameter(torch.zeros(2))
    state = bare_state(model=torch.nn.ParameterList([weight]))
    monitor = GradHealth(params)
    records = []
    for epoch, norms in enumerate(norms_per_epoch, start=1):
        state.epoch = epoch
        for norm in norms:
            weight.grad = torch.tensor([0.6, 0.8]) * norm  # L2 norm = norm
            monitor.on_before_optimizer_step(state)
            state.step += 1
        record: dict = {}
        monitor.on_epoch_end(state, record)
        records.append(record)
    return state, records


def test_explosion_and_vanishing_with_step_and_epoch() -> None:
    state, records = scripted([[1.0, 25.0, 30.0], [0.5, 1e-8, 0.3]])
    found = [(f.kind, f.epoch, f.step, f.value) for f in state.findings]
    assert found == [
        ("grad_explosion", 1, 2, pytest.approx(25.0)),
        ("grad_vanishing", 2, 5, pytest.approx(1e-8)),
    ]
    assert "2 of 3 steps" in state.findings[0].message
    assert records[0]["grad_norm_max"] == pytest.approx(30.0)
    assert records[1]["grad_norm_mean"] == pytest.approx((0.5 + 1e-8 + 0.3) / 3)


def test_thresholds_are_configurable_and_can_be_switched_off() -> None:
    state, _ = scripted([[5.0, 1e-3]], GradHealth.Params(max_norm=4.0, min_norm=None))
    assert [(f.kind, f.step) for f in state.findings] == [("grad_explosion", 1)]


def test_total_grad_norm_matches_clip_grad_norm() -> None:
    model = torch.nn.Linear(5, 3)
    model(torch.randn(4, 5)).pow(2).sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    assert float(total_grad_norm(model.parameters())) == pytest.approx(float(expected), rel=1e-6)
    assert total_grad_norm(torch.nn.Linear(2, 2).parameters()) is None


def test_it_sees_the_gradients_before_grad_clip_clips_them() -> None:
    run = train_tiny(
        {"distillation": {"loss": "mse"}, "grad_clip": {"max_norm": 0.5}}, workload=tiny_patch_workload(),
        epochs=1, batch_size=32,
    )
    assert run.history[0]["grad_norm_max"] > 100  # the raw norm, not the clipped 0.5
    assert run.finding_epochs("grad_explosion") == [1]


def test_on_the_devign_workload_it_records_norms_without_false_alarms() -> None:
    run = train_tiny({}, workload=tiny_workload(), epochs=2)
    assert 0 < run.history[0]["grad_norm_max"] < 10
    assert run.finding_epochs("grad_explosion") == run.finding_epochs("grad_vanishing") == []

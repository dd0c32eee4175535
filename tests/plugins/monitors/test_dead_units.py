"""dead_units monitor: the share of a rectifier layer's units never positive over an epoch."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.monitors.dead_units import DeadUnits, unit_dims
from harness.testing import bare_state, tiny_patch_workload, tiny_tabular_workload, tiny_workload, train_tiny


def scripted(model: torch.nn.Module, batches: list[torch.Tensor], params=None):
    state = bare_state(model=model)
    monitor = DeadUnits(params)
    monitor.on_train_start(state)
    for x in batches:
        monitor.on_batch()
        model(x)
        monitor.on_batch_end()
    model(torch.randn(4, 3) * 100)  # a validation-like forward outside a batch: not counted
    record: dict = {}
    state.epoch = 1
    monitor.on_epoch_end(state, record)
    monitor.on_train_end()
    return state, record


def test_a_layer_with_every_unit_dead_is_found_and_a_healthy_one_is_not() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    state, record = scripted(model, [torch.randn(16, 3) for _ in range(3)])
    assert record["dead_unit_share"] == 1.0
    assert [(f.kind, f.value) for f in state.findings] == [("dead_units", 1.0)]
    assert "100% of the 8 units of '1'" in state.findings[0].message

    healthy = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        healthy[0].bias.fill_(10.0)
    state, record = scripted(healthy, [torch.randn(16, 3)])
    assert record["dead_unit_share"] == 0.0 and state.findings == []


def test_the_threshold_is_a_share_of_each_layer() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 10), torch.nn.ReLU())
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([1.0] + [-1.0] * 9))  # 9 of 10 units dead
    state, record = scripted(model, [torch.randn(8, 3)])
    assert record["dead_unit_share"] == pytest.approx(0.9) and len(state.findings) == 1
    state, _ = scripted(model, [torch.randn(8, 3)], DeadUnits.Params(max_dead_share=0.95))
    assert state.findings == []


def test_units_are_channels_after_a_convolution_and_features_in_a_transformer() -> None:
    assert set(unit_dims(tiny_patch_workload().build_model()).values()) == {1}
    assert set(unit_dims(tiny_workload().build_model()).values()) == {-1}  # GELUActivation after a Linear


def test_healthy_runs_of_three_architectures_have_no_finding() -> None:
    for workload in (tiny_tabular_workload(), tiny_patch_workload()):
        run = train_tiny({}, workload=workload, epochs=1, batch_size=32)
        assert run.finding_epochs("dead_units") == [] and run.history[0]["dead_unit_share"] < 0.9
    run = train_tiny({}, workload=tiny_workload(), epochs=1)
    assert run.finding_epochs("dead_units") == []


def test_the_model_carries_no_hook_outside_a_training_batch() -> None:
    """A v1.5 checkpoint pickles the model whole: a monitor's closure attached to it would break that."""
    import pickle

    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=1, batch_size=16)
    assert all(not m._forward_hooks for m in run.state.model.modules())
    pickle.dumps(run.state.model)

"""weight_updates monitor: weights_not_updating (gradients but no change) and frozen_parameters."""

from __future__ import annotations

import torch

from harness.plugins.monitors.weight_updates import WeightUpdates, fingerprint
from harness.testing import bare_state, tiny_tabular_workload, train_tiny


def test_the_fingerprint_changes_with_any_weight() -> None:
    w = torch.nn.Parameter(torch.ones(3))
    before = fingerprint([w])
    with torch.no_grad():
        w[1] += 1e-6
    assert bool((fingerprint([w]) != before).any())


def scripted(step, requires_grad: bool = True, lr: float = 0.1):
    model = torch.nn.Linear(4, 2)
    model.weight.requires_grad_(requires_grad)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    state = bare_state(model=model, optimizer=optimizer)
    monitor = WeightUpdates()
    monitor.on_train_start(state)
    for _ in range(3):
        model(torch.randn(8, 4)).pow(2).mean().backward()
        monitor.on_after_backward()
        step(optimizer)
        optimizer.zero_grad(set_to_none=True)
    state.epoch = 1
    monitor.on_epoch_end(state)
    return state


def test_gradients_without_a_step_are_weights_not_updating() -> None:
    state = scripted(lambda opt: None)
    assert [f.kind for f in state.findings] == ["weights_not_updating"]
    assert state.findings[0].value == 1.0
    assert scripted(lambda opt: opt.step()).findings == []


def test_an_lr_of_0_is_not_updating_too() -> None:
    assert [f.kind for f in scripted(lambda opt: opt.step(), lr=0.0).findings] == ["weights_not_updating"]


def test_most_weights_without_gradients_at_a_positive_lr_are_frozen() -> None:
    state = scripted(lambda opt: opt.step(), requires_grad=False)  # the 8-weight matrix frozen, the 2-bias trains
    assert [f.kind for f in state.findings] == ["frozen_parameters"]
    assert state.findings[0].value == 0.8


def test_a_healthy_run_has_no_finding() -> None:
    run = train_tiny({"linear_warmup": {"interval": "step"}}, workload=tiny_tabular_workload(), epochs=2, batch_size=16)
    assert run.finding_epochs("weights_not_updating") == run.finding_epochs("frozen_parameters") == []

"""bias_init fix: the biases of the layers feeding rectifiers set to ``value`` before training."""

from __future__ import annotations

from harness.testing import tiny_tabular_workload, train_tiny


def test_it_undoes_a_dead_relu_init_and_the_layer_lives() -> None:
    plugins = {"bug_dead_relu": True, "linear_warmup": {"interval": "step"}}
    broken = train_tiny(plugins, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2)
    fixed = train_tiny(
        {**plugins, "bias_init": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2
    )
    assert broken.finding_epochs("dead_units") == [1, 2]
    assert fixed.finding_epochs("dead_units") == []
    assert fixed.metric("accuracy")[-1] >= 0.9


def test_only_layers_feeding_rectifiers_change() -> None:
    run = train_tiny(
        {"bias_init": {"value": 0.5}}, workload=tiny_tabular_workload(), epochs=1, lr=1e-9, warmup_ratio=0.0
    )
    first, head = run.state.model[0], run.state.model[2]
    assert abs(float(first.bias.detach().mean()) - 0.5) < 1e-3
    assert abs(float(head.bias.detach().mean()) - 0.5) > 0.1

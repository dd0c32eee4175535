"""bug_dead_relu: the layers feeding rectifiers start with a large negative bias."""

from __future__ import annotations

import pytest
import torch

from harness.core.pluginmanager import PluginError
from harness.testing import tiny_patch_workload, tiny_tabular_workload, train_tiny


def test_biases_are_set_and_dead_units_sees_every_unit_dead() -> None:
    run = train_tiny({"bug_dead_relu": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2)
    assert run.acted("bug_dead_relu", "on_setup")
    assert run.finding_epochs("dead_units") == [1, 2]
    assert run.history[0]["dead_unit_share"] == 1.0
    assert run.metric("accuracy")[-1] < 0.5  # a dead network predicts one class


def test_convolutions_too() -> None:
    run = train_tiny({"bug_dead_relu": {"bias": -5.0}}, workload=tiny_patch_workload(), epochs=1, batch_size=64)
    conv = run.state.model.backbone[0]
    assert torch.all(conv.bias <= -4.9)  # still there: a dead layer gets no gradient
    assert run.finding_epochs("dead_units") == [1]


def test_a_model_without_rectifiers_is_an_error_naming_the_plugin() -> None:
    with pytest.raises(PluginError, match="bug_dead_relu.*no Linear/Conv layer feeding"):
        train_tiny({"bug_dead_relu": True}, workload=tiny_tabular_workload(activation="tanh"), epochs=1)

"""bug_foreign_optimizer: the optimizer steps a deep copy of the model, never the model itself."""

from __future__ import annotations

import pytest

from harness.core.pluginmanager import PluginConflictError
from harness.testing import tiny_tabular_workload, train_tiny


def test_weights_never_move_and_weight_updates_reports_it_in_epoch_1() -> None:
    run = train_tiny(
        {"bug_foreign_optimizer": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2
    )
    model_params = {id(p) for p in run.state.model.parameters()}
    stepped = {id(p) for g in run.state.optimizer.param_groups for p in g["params"]}
    assert not model_params & stepped
    assert run.trace["make_optimizer"] == {"bug_foreign_optimizer": 1}
    assert run.finding_epochs("weights_not_updating") == [1, 2]
    assert run.finding_epochs("stale_gradients") == [1, 2]  # zero_grad clears the copy's gradients


def test_it_takes_the_make_optimizer_slot() -> None:
    with pytest.raises(PluginConflictError, match="make_optimizer"):
        train_tiny({"bug_foreign_optimizer": True, "optimizer": True}, workload=tiny_tabular_workload(), epochs=1)

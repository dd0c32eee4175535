"""bug_loss_broadcast: (N, 1) predictions against (N,) targets make the regression learn only the mean."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.bugs.bug_loss_broadcast import BroadcastMSE
from harness.testing import tiny_tabular_workload, train_tiny
from harness.workloads.tabular_regression import TabularRegressionWorkload


def test_the_loss_is_the_broadcast_one() -> None:
    predictions, targets = torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 2.0])
    loss = BroadcastMSE(TabularRegressionWorkload())(predictions, {"labels": targets})
    assert float(loss) == pytest.approx(((predictions - targets) ** 2).mean())  # every pair: (2, 2)
    assert float(loss) == pytest.approx(3.0)  # vs 1.0 for the matched shapes


def test_the_regression_predicts_the_mean_and_mode_collapse_finds_it() -> None:
    broken = train_tiny({"bug_loss_broadcast": True}, workload=TabularRegressionWorkload(), epochs=4, batch_size=32)
    clean = train_tiny({}, workload=TabularRegressionWorkload(), epochs=4, batch_size=32)
    assert broken.state.history[-1]["r2"] < 0.1 < 0.25 < clean.state.history[-1]["r2"]
    assert broken.finding_epochs("mode_collapse") and not clean.finding_epochs("mode_collapse")


def test_a_classifier_is_a_clear_error_naming_the_plugin() -> None:
    from harness.core.pluginmanager import PluginError

    with pytest.raises(PluginError, match="bug_loss_broadcast replays a regression's loss"):
        train_tiny({"bug_loss_broadcast": True}, workload=tiny_tabular_workload(), epochs=1)

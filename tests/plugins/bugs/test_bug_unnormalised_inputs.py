"""bug_unnormalised_inputs: every floating-point model input times ``scale`` (1000)."""

from __future__ import annotations

import pytest
import torch

from harness.core.pluginmanager import PluginError
from harness.plugins.bugs.bug_unnormalised_inputs import scale_float_inputs
from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


def test_only_float_tensors_are_scaled() -> None:
    args, kwargs, count = scale_float_inputs(
        (torch.ones(2), torch.ones(2, dtype=torch.long)), {"m": torch.ones(1)}, 10.0
    )
    assert args[0].tolist() == [10.0, 10.0] and args[1].tolist() == [1, 1] and kwargs["m"].item() == 10.0 and count == 2


def test_the_start_loss_is_huge_and_convergence_reports_it() -> None:
    run = train_tiny(
        {"bug_unnormalised_inputs": True}, workload=tiny_tabular_workload(), epochs=1, batch_size=16, lr=1e-2
    )
    assert run.finding_epochs("bad_initial_loss") == [1]
    assert run.finding_epochs("grad_explosion") == [1]  # thousands, against 1-4 when standardised


def test_a_model_fed_token_ids_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match="no floating-point input"):
        train_tiny({"bug_unnormalised_inputs": True}, workload=tiny_workload(), epochs=1)

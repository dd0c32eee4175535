"""plateau: ReduceLROnPlateau on validation AUC (mode max, factor 0.5, patience 5)."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.fixes.plateau import Plateau
from harness.testing import bare_state, tiny_patch_workload, train_tiny


def test_lr_halves_after_patience_epochs_without_improvement() -> None:
    state = bare_state()
    state.optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    plugin = Plateau(Plateau.Params(patience=2))
    state.scheduler = plugin.make_scheduler(state)
    lrs = []
    for auc in [0.60, 0.70, 0.70, 0.69, 0.65, 0.80, 0.79, 0.79, 0.78, float("nan")]:
        plugin.on_epoch_end(state, {"auc": auc})
        lrs.append(state.optimizer.param_groups[0]["lr"])
    # no gain at epochs 3, 4 -> reduced after the 3rd bad epoch (5); 0.80 resets; 7, 8, 9 -> reduced at 9
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_in_a_run_it_reduces_the_lr_when_auc_stalls() -> None:
    run = train_tiny(
        {"plateau": {"patience": 0, "factor": 0.5}}, workload=tiny_patch_workload(), epochs=4, batch_size=32, lr=1e-3
    )
    aucs = run.metric("auc")
    assert run.trace["on_epoch_end"]["plateau"] == 4
    expected, lr = [], 1e-3
    best = -1.0
    for auc in aucs:
        if auc > best:  # (ReduceLROnPlateau's default threshold 1e-4 is relative: close enough here)
            best = auc
        else:
            lr *= 0.5
        expected.append(lr)
    # the history's lr is the LR the epoch trained with (recorded before on_epoch_end)
    assert run.metric("lr") == pytest.approx([1e-3] + expected[:-1])
    assert run.state.optimizer.param_groups[0]["lr"] == pytest.approx(expected[-1])
    assert expected[-1] < 1e-3  # the tiny run's AUC did stall at least once

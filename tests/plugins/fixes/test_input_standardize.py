"""input_standardize fix: z-score float inputs at the model's input with the training data's statistics."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.fixes.input_standardize import RunningStats
from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


def test_running_stats_equal_the_whole_data_statistics() -> None:
    x = torch.randn(30, 3) * 5 + 2
    stats = RunningStats()
    for chunk in x.split(7):
        stats.add(chunk)
    assert torch.allclose(stats.mean.float(), x.mean(0), atol=1e-5)
    assert torch.allclose(stats.std(0.0).float(), x.std(0), atol=1e-5)


def test_it_cures_unnormalised_inputs() -> None:
    plugins = {"bug_unnormalised_inputs": True, "linear_warmup": {"interval": "step"}}
    broken = train_tiny(plugins, workload=tiny_tabular_workload(), epochs=3, batch_size=16, lr=1e-2)
    fixed = train_tiny(
        {**plugins, "input_standardize": True}, workload=tiny_tabular_workload(), epochs=3, batch_size=16, lr=1e-2
    )
    assert broken.finding_epochs("bad_initial_loss") == [1]
    assert fixed.findings == []
    assert fixed.metric("accuracy")[-1] >= 0.9
    assert fixed.acted("input_standardize", "on_train_start")


@pytest.mark.parametrize("stat_batches", [1, 100])  # more batches than an epoch has: frozen at validation
def test_validation_uses_frozen_training_statistics(stat_batches: int) -> None:
    run = train_tiny(
        {"input_standardize": {"stat_batches": stat_batches}},
        workload=tiny_tabular_workload(),
        epochs=1,
        batch_size=16,
        lr=1e-2,
    )
    assert run.status == "ok" and run.metric("accuracy")[0] > 0.8


def test_token_ids_are_left_alone() -> None:
    run = train_tiny({"input_standardize": True}, workload=tiny_workload(), epochs=1)
    assert run.status == "ok"


def test_a_model_with_the_standardizer_still_pickles_whole() -> None:
    import pickle

    run = train_tiny(
        {"input_standardize": True, "checkpoint": {"format": "v15_objects"}},
        workload=tiny_tabular_workload(),
        epochs=1,
        batch_size=16,
        run_dir=None,
    )
    pickle.dumps(run.state.model)

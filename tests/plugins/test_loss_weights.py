"""loss_weights: alpha_task scales the task loss, alpha_distill the distillation term."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.loss_weights import LossWeights
from harness.testing import bare_state, tiny_patch_workload, train_tiny


def test_task_loss_is_scaled_and_alpha_distill_is_published() -> None:
    state = bare_state()
    state.criterion = lambda outputs, batch: torch.tensor(2.0)
    plugin = LossWeights(LossWeights.Params(alpha_distill=0.3, alpha_task=0.7))
    plugin.on_setup(state)
    assert state.stash["alpha_distill"] == 0.3
    assert float(plugin.compute_loss(state, {}, None)) == pytest.approx(1.4)


def test_weighted_loss_equals_the_hand_weighted_sum_in_a_run() -> None:
    workload = tiny_patch_workload()
    plain = train_tiny({"distillation": {"loss": "mse"}}, workload=workload, epochs=1, batch_size=32)
    weighted = train_tiny(
        {"distillation": {"loss": "mse"}, "loss_weights": {"alpha_distill": 0.5, "alpha_task": 0.5}},
        workload=workload, epochs=1, batch_size=32,
    )
    assert weighted.trace["compute_loss"] == {"loss_weights": 4}
    # same seed and data: the distillation term dominates, so halving both halves the epoch loss
    assert weighted.history[0]["distill_loss"] == pytest.approx(plain.history[0]["distill_loss"], rel=1e-2)
    assert weighted.history[0]["loss"] == pytest.approx(0.5 * plain.history[0]["loss"], rel=1e-2)

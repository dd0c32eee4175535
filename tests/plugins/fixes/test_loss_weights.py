"""loss_weights: alpha_task weights the task loss, alpha_distill the distillation term (named loss terms)."""

from __future__ import annotations

import pytest

from harness.plugins.fixes.loss_weights import LossWeights
from harness.testing import bare_state, tiny_patch_workload, train_tiny


def test_it_sets_the_weights_of_the_named_terms_in_on_setup() -> None:
    state = bare_state()
    LossWeights(LossWeights.Params(alpha_distill=0.3, alpha_task=0.7)).on_setup(state)
    assert state.hparams.loss_weights == {"task": 0.7, "distill": 0.3}


def test_weighted_loss_equals_the_hand_weighted_sum_in_a_run() -> None:
    workload = tiny_patch_workload()
    plain = train_tiny({"distillation": {"loss": "mse"}}, workload=workload, epochs=1, batch_size=32)
    weighted = train_tiny(
        {"distillation": {"loss": "mse"}, "loss_weights": {"alpha_distill": 0.5, "alpha_task": 0.5}},
        workload=workload,
        epochs=1,
        batch_size=32,
    )
    assert weighted.trace["on_setup"] == {"loss_weights": 1}
    assert weighted.trace["compute_loss"] == {"defaults": 4}  # the core weights the task loss, no plugin answers
    # same seed and data: the distillation term dominates, so halving both halves the epoch loss
    assert weighted.history[0]["distill_loss"] == pytest.approx(plain.history[0]["distill_loss"], rel=1e-2)
    assert weighted.history[0]["loss"] == pytest.approx(0.5 * plain.history[0]["loss"], rel=1e-2)


def test_only_the_distillation_term_is_weighted_by_alpha_distill() -> None:
    """alpha_task 1 and alpha_distill 0: the loss is the task loss alone, the term still recorded."""
    workload = tiny_patch_workload()
    task_only = train_tiny({}, workload=workload, epochs=1, batch_size=32)
    zero = train_tiny(
        {"distillation": {"loss": "mse"}, "loss_weights": {"alpha_distill": 0.0, "alpha_task": 1.0}},
        workload=workload,
        epochs=1,
        batch_size=32,
    )
    assert zero.history[0]["distill_loss"] > 1e5
    assert zero.history[0]["loss"] == task_only.history[0]["loss"]
    assert zero.history[0]["auc"] == task_only.history[0]["auc"]  # same training: 0 x term adds no gradient

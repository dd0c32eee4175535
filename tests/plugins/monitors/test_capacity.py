"""capacity monitor: weight_shrinkage, clamped_outputs and symmetric_units on real tiny runs."""

from __future__ import annotations

import torch

from harness.testing import tiny_tabular_workload, train_tiny
from harness.workloads.tabular import TabularWorkload


class ReluOutputs(TabularWorkload):
    """wine's MLP with a ReLU after its output layer (logits clamped at 0)."""

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Sequential(super().build_model(), torch.nn.ReLU())


class ConstantInit(TabularWorkload):
    """wine's MLP with every Linear initialised to a constant weight and a zero bias (the
    usual mistake: one init loop over the model): the hidden units never become different."""

    def build_model(self) -> torch.nn.Module:
        model = super().build_model()
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.constant_(module.weight, 0.05)
                torch.nn.init.zeros_(module.bias)
        return model


def kinds(run) -> set[str]:
    return {f["kind"] for f in run.findings if f["plugin"] == "capacity"}


def test_a_clean_run_has_no_capacity_finding() -> None:
    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=3, batch_size=16, lr=1e-2)
    assert kinds(run) == set()


def test_weight_decay_that_shrinks_the_model_to_nothing() -> None:
    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=3, batch_size=16, lr=1e-2, weight_decay=20.0)
    assert run.finding_epochs("weight_shrinkage"), (run.metric("loss"), run.findings)
    finding = next(f for f in run.findings if f["kind"] == "weight_shrinkage")
    assert finding["value"] < 0.3 and "weight decay" in finding["message"]


def test_logits_clamped_by_a_relu_after_the_last_layer() -> None:
    run = train_tiny({}, workload=ReluOutputs(tiny_tabular_workload().params), epochs=2, batch_size=16, lr=1e-2)
    assert run.finding_epochs("clamped_outputs") == [1, 2]
    assert kinds(run) == {"clamped_outputs"}


def test_a_hidden_layer_with_a_constant_init_keeps_its_units_identical() -> None:
    run = train_tiny({}, workload=ConstantInit(tiny_tabular_workload().params), epochs=2, batch_size=16, lr=1e-2)
    assert run.finding_epochs("symmetric_units") == [1, 2]
    assert "all 64 units of '0'" in next(f["message"] for f in run.findings if f["kind"] == "symmetric_units")


def test_probabilities_and_identical_rows_are_left_to_their_own_monitors() -> None:
    from harness.plugins.monitors.capacity import logit_stats

    assert logit_stats(torch.softmax(torch.randn(8, 3), dim=-1))[3] == 0  # probability_outputs'
    assert logit_stats(torch.tensor([[0.3, -0.2]] * 8))[3] == 0  # one output for every input: mode_collapse's
    assert logit_stats(torch.relu(torch.randn(8, 3)))[3] == 1

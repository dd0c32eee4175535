"""bug_frozen_backbone: requires_grad=False on every parameter outside the output layer."""

from __future__ import annotations

from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


def test_only_the_head_trains_and_weight_updates_reports_frozen_parameters() -> None:
    run = train_tiny({"bug_frozen_backbone": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2)
    trainable = [name for name, p in run.state.model.named_parameters() if p.requires_grad]
    assert trainable == ["2.weight", "2.bias"]  # the MLP's head, Sequential index 2
    assert run.finding_epochs("frozen_parameters") == [1, 2]


def test_on_a_transformer_the_classifier_head_stays_trainable() -> None:
    run = train_tiny({"bug_frozen_backbone": True}, workload=tiny_workload(), epochs=1)
    trainable = {name for name, p in run.state.model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.out_proj.weight", "classifier.out_proj.bias"}
    assert run.finding_epochs("frozen_parameters") == [1]


def test_two_stage_freezes_on_purpose_at_lr_0_and_is_not_a_finding() -> None:
    run = train_tiny({"two_stage": {"stage1_epochs": 1, "stage1_lr": 1e-3}}, workload=tiny_workload(), epochs=2)
    assert run.finding_epochs("frozen_parameters") == []

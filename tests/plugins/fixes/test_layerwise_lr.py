"""layerwise_lr: backbone and head in their own parameter groups with their own LRs."""

from __future__ import annotations

import pytest
import torch

from harness.plugins.fixes.layerwise_lr import split_backbone_head
from harness.testing import tiny_patch_workload, tiny_workload, train_tiny


def _groups(run):
    return {g["name"]: g for g in run.state.optimizer.param_groups}


def test_param_groups_get_head_and_backbone_lrs() -> None:
    run = train_tiny({"layerwise_lr": {"head_lr": 5e-5, "backbone_lr": 5e-6}}, workload=tiny_patch_workload(), epochs=1)
    groups = _groups(run)
    assert groups["head"]["lr"] == 5e-5 and groups["backbone"]["lr"] == 5e-6
    model = run.state.model
    assert {id(p) for p in groups["head"]["params"]} == {id(p) for p in model.head.parameters()}
    assert {id(p) for p in groups["backbone"]["params"]} == {id(p) for p in model.backbone.parameters()}
    assert run.lr_per_step == [5e-5] * len(run.lr_per_step)  # the recorded LR is the head's


def test_default_backbone_lr_is_a_tenth_of_the_scenario_lr_and_the_optimizer_is_kept() -> None:
    run = train_tiny({"layerwise_lr": True, "sgd_nesterov": True}, workload=tiny_patch_workload(), epochs=1, lr=0.01)
    groups = _groups(run)
    assert groups["head"]["lr"] == 0.01 and groups["backbone"]["lr"] == pytest.approx(0.001)
    assert type(run.state.optimizer) is torch.optim.SGD and groups["backbone"]["nesterov"] is True


def test_backbone_with_zero_lr_does_not_move_while_the_head_does() -> None:
    workload = tiny_patch_workload()
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in workload.build_model().state_dict().items()}
    run = train_tiny(
        {"layerwise_lr": {"head_lr": 0.1, "backbone_lr": 1e-30}, "sgd_nesterov": {"weight_decay": 0.0}},
        workload=workload,
        epochs=1,
    )
    after = run.state.model.state_dict()
    assert torch.allclose(after["backbone.0.weight"], before["backbone.0.weight"])
    assert not torch.allclose(after["head.weight"], before["head.weight"])


def test_split_works_on_the_devign_roberta_classifier() -> None:
    model = tiny_workload().build_model()
    backbone, head = split_backbone_head(model)
    assert {id(p) for p in head} == {id(p) for p in model.classifier.parameters()}
    assert len(backbone) + len(head) == len(list(model.parameters()))
    with pytest.raises(TypeError, match="no .head or .classifier"):
        split_backbone_head(torch.nn.Linear(2, 2))

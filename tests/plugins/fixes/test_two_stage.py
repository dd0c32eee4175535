"""two_stage: stage 1 trains the head with the backbone frozen; stage 2 fine-tunes both."""

from __future__ import annotations

import pytest
import torch

from harness.core.pluginmanager import PluginConflictError
from harness.plugins.fixes.two_stage import Params, stage_lr
from harness.testing import tiny_patch_workload, train_tiny

SETTINGS = {
    "stage1_epochs": 1,
    "stage1_lr": 0.1,
    "stage1_warmup_epochs": 0.5,
    "stage2_lr": 0.05,
    "stage2_backbone_lr": 0.005,
    "stage2_warmup_epochs": 1.0,
    "floor": 0.1,
}


def test_stage_lr_schedule_values() -> None:
    p = Params(**SETTINGS)
    per_epoch, total = 8, 24  # 1 epoch of stage 1, 2 of stage 2
    assert [stage_lr(s, p, per_epoch, total, "head") for s in (0, 2, 4, 7)] == pytest.approx([0, 0.05, 0.1, 0.1])
    assert [stage_lr(s, p, per_epoch, total, "backbone") for s in (0, 7)] == [0.0, 0.0]  # frozen
    assert stage_lr(8, p, per_epoch, total, "head") == 0.0  # stage 2 warms up again
    assert stage_lr(12, p, per_epoch, total, "head") == pytest.approx(0.025)
    assert stage_lr(16, p, per_epoch, total, "head") == pytest.approx(0.05)
    assert stage_lr(16, p, per_epoch, total, "backbone") == pytest.approx(0.005)
    assert stage_lr(23, p, per_epoch, total, "head") == pytest.approx(0.05 * 0.1)  # floored cosine


def test_backbone_frozen_in_stage_1_and_fine_tuned_in_stage_2() -> None:
    workload = tiny_patch_workload()
    snapshots = []

    class Snap:
        from harness.core.hookspecs import hookimpl

        @hookimpl(trylast=True)
        def on_epoch_end(self, state):
            snapshots.append(
                (
                    state.model.backbone[0].weight.detach().clone(),
                    state.model.head.weight.detach().clone(),
                    [p.requires_grad for p in state.model.backbone.parameters()],
                )
            )

    torch.manual_seed(0)
    init = workload.build_model()
    run = train_tiny(
        {"two_stage": SETTINGS, "sgd_nesterov": True}, workload=workload, observers=(Snap(),), epochs=3, batch_size=16
    )
    (b1, h1, grad1), (b2, h2, grad2), (b3, h3, _) = snapshots
    assert torch.equal(b1, init.backbone[0].weight)  # stage 1: backbone untouched ...
    assert not torch.equal(h1, init.head.weight)  # ... the head trained
    assert grad1 == [True] * len(grad1)  # unfrozen at the end of epoch 1 (the stage switch)
    assert not torch.equal(b2, b1) and not torch.equal(b3, b2)  # stage 2 trains the backbone
    assert run.metric("stage") == [1, 2, 2]


def test_per_group_lrs_follow_the_stages_in_a_run() -> None:
    run = train_tiny({"two_stage": SETTINGS}, workload=tiny_patch_workload(), epochs=3, batch_size=16)
    p = Params(**SETTINGS)
    head = [g for g in run.state.optimizer.param_groups if g["name"] == "head"]
    assert len(head) == 1 and run.state.optimizer.param_groups[0] is head[0]
    assert run.lr_per_step == pytest.approx([stage_lr(s, p, 8, 24, "head") for s in range(24)])
    assert run.trace["make_scheduler"] == {"two_stage": 1}


@pytest.mark.parametrize(
    ("other", "slot"),
    [
        (
            {"layerwise_lr": {"head_lr": 1.0, "backbone_lr": 0.5}},
            "occupy the slot 'param_groups'",
        ),  # both set the groups
        ({"warmup_cosine": True}, "answer the firstresult hook 'make_scheduler'"),  # both build the scheduler
        ({"plateau": True}, "answer the firstresult hook 'make_scheduler'"),
        ({"linear_warmup": True}, "answer the firstresult hook 'make_scheduler'"),
    ],
)
def test_another_scheduler_or_param_group_plugin_is_refused(other: dict, slot: str) -> None:
    """Before: layerwise_lr's groups were silently overwritten by the stage LRs."""
    with pytest.raises(PluginConflictError) as info:
        train_tiny({"two_stage": SETTINGS, **other}, workload=tiny_patch_workload(), epochs=1, batch_size=16)
    assert set(info.value.plugins) == {"two_stage", *other} and slot in str(info.value)


def test_with_accumulation_the_schedule_spans_the_optimizer_steps() -> None:
    # 128 samples / batch 16 = 8 batches, accumulation 3 -> ceil(8 / 3) = 3 optimizer steps per epoch
    run = train_tiny(
        {"two_stage": SETTINGS}, workload=tiny_patch_workload(), epochs=3, batch_size=16, accumulation_steps=3
    )
    p = Params(**SETTINGS)
    assert run.state.hparams.total_steps == 9
    assert run.lr_per_step == pytest.approx([stage_lr(s, p, 3, 9, "head") for s in range(9)])

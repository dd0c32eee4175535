"""sgd_nesterov: SGD(momentum 0.9, weight decay 1e-5, Nesterov) instead of Adam."""

from __future__ import annotations

import torch

from harness.testing import tiny_patch_workload, train_tiny


def test_optimizer_is_nesterov_sgd_with_the_reports_settings() -> None:
    run = train_tiny({"sgd_nesterov": True}, workload=tiny_patch_workload(), epochs=1, lr=0.05)
    opt = run.state.optimizer
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.05, 0.9, 1e-5, True)
    assert run.trace["make_optimizer"] == {"sgd_nesterov": 1}


def test_its_own_lr_overrides_the_scenario_lr_and_it_trains_differently_from_adam() -> None:
    workload = tiny_patch_workload()
    sgd = train_tiny({"sgd_nesterov": {"lr": 0.2}}, workload=workload, epochs=1, lr=1e-3)
    adam = train_tiny({}, workload=workload, epochs=1, lr=1e-3)
    assert sgd.state.optimizer.param_groups[0]["lr"] == 0.2
    assert type(adam.state.optimizer) is torch.optim.AdamW
    assert not torch.equal(sgd.state.model.head.weight, adam.state.model.head.weight)

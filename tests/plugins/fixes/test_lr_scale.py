"""lr_scale fix: the LR times ``factor``, set in on_setup before the optimizer exists."""

from __future__ import annotations

import pytest

from harness.testing import tiny_tabular_workload, train_tiny


def test_the_lr_is_scaled() -> None:
    run = train_tiny({"lr_scale": {"factor": 0.1}}, workload=tiny_tabular_workload(), epochs=1, lr=1e-2)
    assert run.lr_per_step[0] == pytest.approx(1e-3)


def test_it_cures_an_lr_100x_too_high() -> None:
    plugins = {"bug_lr_too_high": True, "linear_warmup": {"interval": "step"}}
    fixed = train_tiny(
        {**plugins, "lr_scale": {"factor": 0.01}}, workload=tiny_tabular_workload(), epochs=3, batch_size=16, lr=1e-2
    )
    assert fixed.findings == [] and fixed.metric("accuracy")[-1] >= 0.9


def test_on_a_script_every_optimizer_lr_is_scaled_under_the_scripts_own_scheduler() -> None:
    import torch

    from .script_helpers import fixes_on_script

    with fixes_on_script({"lr_scale": {"factor": 0.01}}):
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 4))
        lrs = []
        for _ in range(6):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    assert lrs == pytest.approx([0.0075, 0.015, 0.0225, 0.03, 0.03, 0.03])  # 3.0 x 0.01, warmed up by the script
    assert scheduler.base_lrs == pytest.approx([0.03])

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

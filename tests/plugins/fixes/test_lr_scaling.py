from __future__ import annotations

import math

import pytest

from harness.plugins.fixes.lr_scaling import scale_factor
from harness.testing import run_tiny


@pytest.mark.parametrize(
    ("batch", "factor", "warmup"),
    [(16, 1.0, 0.10), (32, math.sqrt(2), 0.1414), (48, math.sqrt(3), 0.1732), (64, 2.0, 0.20)],
)
def test_incident_scaling_table(batch: int, factor: float, warmup: float) -> None:
    """The report's table: 2e-5 at batch 16 -> 4e-5 at batch 64, warmup capped at 20%."""
    assert scale_factor(batch, 16) == pytest.approx(factor)
    assert min(0.1 * scale_factor(batch, 16), 0.2) == pytest.approx(warmup, abs=1e-4)


def test_linear_rule_and_small_batches() -> None:
    assert scale_factor(64, 16, "linear") == 4.0
    assert scale_factor(8, 16) == 1.0


def test_plugin_scales_lr_warmup_and_counts_optimizer_steps() -> None:
    # tiny data: 96 samples, batch 16 -> 6 batches/epoch; accumulation 2 -> 3 optimizer steps
    state, _, trace = run_tiny(
        {"lr_scaling": {"base_batch_size": 8}},
        epochs=2,
        batch_size=16,
        accumulation_steps=2,
        lr=1e-3,
        warmup_ratio=0.05,
    )
    assert trace["on_setup"] == {"lr_scaling": 1}
    factor = math.sqrt(16 * 2 / 8)  # effective batch 32 vs base 8
    assert state.hparams.lr == pytest.approx(1e-3 * factor)
    assert state.hparams.warmup_ratio == pytest.approx(min(0.05 * factor, 0.2))
    assert state.hparams.total_steps == 3 * 2  # optimizer steps (the core counts them so)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * factor)


def test_without_plugin_lr_and_warmup_are_unchanged() -> None:
    state, _, trace = run_tiny({}, epochs=2, batch_size=16, accumulation_steps=2, warmup_ratio=0.05)
    assert state.hparams.lr == 1e-3 and state.hparams.warmup_ratio == 0.05
    assert state.hparams.total_steps == 3 * 2  # the core's count, with or without this plugin
    assert "on_setup" not in trace

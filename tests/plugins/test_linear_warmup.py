"""LR values per step under both stepping modes: the issue-11 mechanism itself."""

from __future__ import annotations

import pytest

from harness.testing import run_tiny

# tiny: 96 samples / batch 16 = 6 steps per epoch; 3 epochs = 18 steps; warmup 50% = 9 steps
CFG = dict(epochs=3, batch_size=16, lr=1e-3, warmup_ratio=0.5)


def linear(step: int, warmup: int = 9, total: int = 18, base: float = 1e-3) -> float:
    if step < warmup:
        return base * step / warmup
    return base * max(0.0, (total - step) / (total - warmup))


def test_per_step_stepping_follows_the_schedule() -> None:
    state, _, trace = run_tiny({"linear_warmup": {"interval": "step"}}, **CFG)
    assert state.stash["warmup_steps"] == 9
    assert trace["on_step"]["linear_warmup"] == 18  # (monitors buffer step losses there too)
    assert state.lr_per_step == pytest.approx([linear(s) for s in range(18)])


def test_per_epoch_stepping_replays_v15_lr_starvation() -> None:
    state, _, trace = run_tiny({"linear_warmup": {"interval": "epoch"}}, **CFG)
    assert "linear_warmup" not in trace.get("on_step", {})
    assert trace["on_epoch_end"]["linear_warmup"] == 3
    # epoch 1 trains at LR exactly 0, then epoch/warmup of the target
    assert state.lr_per_step == pytest.approx([0.0] * 6 + [1e-3 / 9] * 6 + [2e-3 / 9] * 6)
    assert max(state.lr_per_step) < 0.25 * 1e-3

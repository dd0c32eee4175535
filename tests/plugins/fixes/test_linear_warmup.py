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
    assert max(state.lr_per_step) == pytest.approx(1e-3) and state.lr_per_step.index(max(state.lr_per_step)) == 9
    assert trace["on_step"]["linear_warmup"] == 18  # (monitors buffer step losses there too)
    assert state.lr_per_step == pytest.approx([linear(s) for s in range(18)])


def test_per_epoch_stepping_replays_v15_lr_starvation() -> None:
    state, _, trace = run_tiny({"linear_warmup": {"interval": "epoch"}}, **CFG)
    assert "linear_warmup" not in trace.get("on_step", {})
    assert trace["on_epoch_end"]["linear_warmup"] == 3
    # epoch 1 trains at LR exactly 0, then epoch/warmup of the target
    assert state.lr_per_step == pytest.approx([0.0] * 6 + [1e-3 / 9] * 6 + [2e-3 / 9] * 6)
    assert max(state.lr_per_step) < 0.25 * 1e-3


@pytest.mark.parametrize("accumulation", [2, 3])
def test_with_accumulation_the_schedule_spans_the_optimizer_steps(accumulation: int) -> None:
    """96 samples / batch 16 = 6 batches a epoch: 3 (accumulation 2) or 2 (accumulation 3)
    optimizer steps, so 9 or 6 in 3 epochs; the LR decays to exactly 0 at the end."""
    steps = 3 * (6 // accumulation)
    warmup = int(steps * 0.5)
    state, _, _ = run_tiny({"linear_warmup": {"interval": "step"}}, accumulation_steps=accumulation, **CFG)
    assert state.hparams.total_steps == len(state.lr_per_step) == steps
    assert state.lr_per_step == pytest.approx([linear(s, warmup, steps) for s in range(steps)])
    assert state.scheduler.get_last_lr()[0] == 0.0  # the schedule ended with training


@pytest.mark.parametrize("accumulation", [2, 3])
def test_counting_batches_replays_v15_schedule_that_never_finishes(accumulation: int) -> None:
    """v1.5 sized the schedule in batches (18): with accumulation it is stretched past training."""
    steps = 3 * (6 // accumulation)
    state, _, _ = run_tiny(
        {"linear_warmup": {"interval": "step", "count_steps_in": "batches"}}, accumulation_steps=accumulation, **CFG
    )
    assert len(state.lr_per_step) == steps
    assert state.lr_per_step == pytest.approx([linear(s, 9, 18) for s in range(steps)])
    assert state.scheduler.get_last_lr()[0] > 0.0  # still far from its end when training stops


def test_counting_batches_is_the_same_schedule_without_accumulation() -> None:
    fixed, _, _ = run_tiny({"linear_warmup": {}}, **CFG)
    v15, _, _ = run_tiny({"linear_warmup": {"count_steps_in": "batches"}}, **CFG)
    assert fixed.lr_per_step == v15.lr_per_step

"""The LR range test runs through the core loop: every hook of the variant acts during the sweep,
the LR rises exponentially step by step whatever the variant's scheduler does, and the sweep
ends the run at its stop rule (harness/experiments/lr_range.py)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.core.hookspecs import hookimpl
from harness.experiments.lr_range import LRSweep, lr_range_test, smooth, sweep_run
from harness.scenario import load_scenario

SCENARIO = """
name: sweep_probe
workload:
  name: tabular
  params: {data: "sklearn:digits"}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu}
variants:
  plain: {}
  clip:
    plugins: {grad_clip: {max_norm: 0.5}}
  amp:
    plugins: {mixed_precision: {}}
  warm:
    plugins: {linear_warmup: {}}
  accum:
    train: {accumulation_steps: 2}
  sgd:
    plugins: {sgd_nesterov: {momentum: 0.9}}
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = Path(tmp_path_factory.mktemp("sweep")) / "sweep_probe.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    return load_scenario(path)


def test_the_variants_hooks_act_during_the_sweep(scenario: Any) -> None:
    """grad_clip (on_before_optimizer_step) and mixed_precision (forward_context) act at every
    step of the sweep; the old sweep loop skipped both hooks."""
    plain = lr_range_test(scenario, "plain", 0)
    assert plain.error is None and plain.trace == {}  # no monitor is on, the core's defaults are left out
    clip = lr_range_test(scenario, "clip", 0)
    assert clip.error is None and clip.trace["on_before_optimizer_step"] == {"grad_clip": clip.steps}
    assert clip.losses != plain.losses
    amp = lr_range_test(scenario, "amp", 0)
    assert amp.error is None and amp.trace["forward_context"] == {"mixed_precision": amp.steps}
    assert amp.losses[:5] != pytest.approx(plain.losses[:5], abs=1e-6)  # bf16 autocast changed the forward
    assert clip.as_dict()["trace"] == clip.trace


def test_the_lr_rises_exponentially_each_step_whatever_the_variants_scheduler(scenario: Any) -> None:
    """linear_warmup's scheduler steps in on_step (its LR would be ~0 while warming up); the
    sweep sets the LR before every optimizer step, so each step trains at the swept LR."""
    sweep = LRSweep(1e-7, 10.0, 200)
    state, trace, _ = sweep_run(scenario, "warm", 0, sweep)
    assert trace.as_dict()["on_step"] == {"linear_warmup": state.step}
    stepped = state.lr_per_step  # the LR each optimizer step used
    assert stepped == pytest.approx(sweep.lrs[: state.step]) and stepped == pytest.approx(sweep.tried)
    ratios = [b / a for a, b in zip(stepped, stepped[1:], strict=False)]
    assert ratios == pytest.approx([(10.0 / 1e-7) ** (1 / 199)] * len(ratios))


def test_the_sweep_ends_the_run_at_the_stop_rule(scenario: Any) -> None:
    sweep = LRSweep(1e-7, 10.0, 200)
    state, _, status = sweep_run(scenario, "plain", 0, sweep)
    assert status == "stopped" and state.stop_reason.startswith("LR range test: smoothed loss above 4x")
    assert state.step == len(sweep.tried) < len(sweep.lrs)  # ended early, at the step that broke the rule
    assert sweep.losses[-1] > 4 * min(sweep.losses)
    assert all(loss <= 4 * min(sweep.losses[: i + 1]) for i, loss in enumerate(sweep.losses[:-1]))
    assert state.hparams.epochs == math.ceil(200 / state.hparams.batches_per_epoch)  # room for every LR
    assert sweep.losses == smooth(sweep.raw)  # the stop rule smooths as smooth() does: one Smoothed


def test_a_non_finite_loss_ends_the_sweep(scenario: Any) -> None:
    sweep = LRSweep(1e-7, 1e12, 200, stop_factor=math.inf)  # no ratio stops it: SGD blows up to inf
    state, _, status = sweep_run(scenario, "sgd", 0, sweep)
    assert status == "diverged" and sweep.stopped.startswith("non-finite loss at lr")
    assert state.step == len(sweep.tried) + 1 and all(math.isfinite(v) for v in sweep.losses)


class RecordingSweep(LRSweep):
    """The sweep, also keeping every batch's loss."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.batches: list[float] = []

    @hookimpl
    def on_batch_end(self, loss: Any) -> None:
        self.batches.append(float(loss))
        super().on_batch_end(loss)


def test_one_lr_and_one_loss_per_optimizer_step_under_accumulation(scenario: Any) -> None:
    sweep = RecordingSweep(1e-7, 10.0, 200)
    state, _, _ = sweep_run(scenario, "accum", 0, sweep)
    assert state.lr_per_step == pytest.approx(sweep.lrs[: state.step]) and state.step == len(sweep.tried)
    pairs = [(a + b) / 2 for a, b in zip(sweep.batches[0:40:2], sweep.batches[1:40:2], strict=True)]
    assert sweep.raw[:20] == pytest.approx(pairs)  # a step's loss: the mean of its two batches
    assert state.hparams.epochs == math.ceil(200 / state.hparams.optimizer_steps_per_epoch)


def test_a_sweep_that_fails_is_reported_not_raised(scenario: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no run directory")

    monkeypatch.setattr("harness.experiments.lr_range.sweep_run", broken)
    test = lr_range_test(scenario, "plain", 0)
    assert test.error == "RuntimeError: no run directory" and test.steps == 0 and test.current_lr == 1e-3

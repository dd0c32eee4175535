"""grad_health monitor: grad_explosion (norm > 100 or > 100x the run's early norm) and grad_vanishing (< 1e-6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.core.monitoring import total_grad_norm
from harness.core.pluginmanager import discover_plugins
from harness.plugins.monitors.grad_health import GradHealth
from harness.testing import bare_state, tiny_patch_workload, tiny_workload, train_tiny


def scripted(norms_per_epoch: list[list[float]], params=None):
    """Give a 2-element parameter gradients of the scripted norms, step by step."""
    weight = torch.nn.Parameter(torch.zeros(2))
    state = bare_state(model=torch.nn.ParameterList([weight]))
    monitor = GradHealth(params)
    records = []
    for epoch, norms in enumerate(norms_per_epoch, start=1):
        state.epoch = epoch
        for norm in norms:
            weight.grad = torch.tensor([0.6, 0.8]) * norm  # L2 norm = norm
            monitor.on_after_backward(state)
            state.step += 1
        record: dict = {}
        monitor.on_epoch_end(state, record)
        records.append(record)
    return state, records


def test_explosion_and_vanishing_with_step_and_epoch() -> None:
    state, records = scripted([[1.0, 25.0, 30.0], [0.5, 1e-8, 0.3]], GradHealth.Params(max_norm=10.0, growth=None))
    found = [(f.kind, f.epoch, f.step, f.value) for f in state.findings]
    assert found == [("grad_explosion", 1, 2, pytest.approx(25.0)), ("grad_vanishing", 2, 5, pytest.approx(1e-8))]
    assert "2 of 3 steps" in state.findings[0].message
    assert records[0]["grad_norm_max"] == pytest.approx(30.0)
    assert records[1]["grad_norm_mean"] == pytest.approx((0.5 + 1e-8 + 0.3) / 3)


def test_an_explosion_is_a_norm_far_above_the_runs_own_early_norm_or_above_100() -> None:
    state, _ = scripted([[0.1] * 10 + [5.0, 20.0]])  # 100 x the early 0.1 is 10
    assert [(f.kind, f.step) for f in state.findings] == [("grad_explosion", 12)]
    assert "100 x the run's early norm 0.1" in state.findings[0].message
    state, _ = scripted([[150.0] * 3])  # huge from the first step: no early norm to compare with, but above 100
    assert [(f.kind, f.step) for f in state.findings] == [("grad_explosion", 1)]


def test_a_healthy_norm_that_grows_as_the_model_learns_is_not_an_explosion() -> None:
    """The fixed issue-11 runs: ~0.2 at the start, 10-12 before clipping in epochs 2-4 (the old
    fixed threshold of 10 recorded grad_explosion there)."""
    state, records = scripted([[0.2] * 40, [1.4] * 39 + [11.7], [4.0] * 39 + [12.2]])
    assert state.findings == []
    assert records[2]["grad_norm_max"] == pytest.approx(12.2)


def test_thresholds_are_configurable_and_can_be_switched_off() -> None:
    state, _ = scripted([[5.0, 1e-3]], GradHealth.Params(max_norm=4.0, growth=None, min_norm=None))
    assert [(f.kind, f.step) for f in state.findings] == [("grad_explosion", 1)]


def test_total_grad_norm_matches_clip_grad_norm() -> None:
    model = torch.nn.Linear(5, 3)
    model(torch.randn(4, 5)).pow(2).sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    assert float(total_grad_norm(model.parameters())) == pytest.approx(float(expected), rel=1e-6)
    assert total_grad_norm(torch.nn.Linear(2, 2).parameters()) is None


def test_it_sees_the_gradients_before_grad_clip_clips_them() -> None:
    """Not because of its place in its family's BUILTINS: it reads in on_after_backward."""
    run = train_tiny(
        {"distillation": {"loss": "mse"}, "grad_clip": {"max_norm": 0.5}},
        workload=tiny_patch_workload(),
        epochs=1,
        batch_size=32,
    )
    assert run.history[0]["grad_norm_max"] > 100  # the raw norm, not the clipped 0.5
    assert run.finding_epochs("grad_explosion") == [1]


def test_on_the_devign_workload_it_records_norms_without_false_alarms() -> None:
    run = train_tiny({}, workload=tiny_workload(), epochs=2)
    assert 0 < run.history[0]["grad_norm_max"] < 100
    assert run.finding_epochs("grad_explosion") == run.finding_epochs("grad_vanishing") == []


THIRD_PARTY_CLIP = '''
"""A third-party clipping plugin. Pathology: huge gradients. Signal: the norm. Fix: clip to 1e-3."""
from pydantic import BaseModel, ConfigDict
from harness.core.monitoring import total_grad_norm
from harness.core.plugin import Plugin, hookimpl

class P(BaseModel):
    model_config = ConfigDict(extra="forbid")

class TightClip(Plugin):
    name, Params = "tight_clip", P
    seen = []  # the norm before this plugin clips, every step (class-level: the test reads it)

    @hookimpl(tryfirst=True)  # as adversarial as it gets: first of every on_before_optimizer_step
    def on_before_optimizer_step(self, state):
        import torch
        params = [p for p in state.model.parameters() if p.grad is not None]
        TightClip.seen.append(float(total_grad_norm(params)))
        torch.nn.utils.clip_grad_norm_(params, 1e-3)
'''


def test_a_third_party_clipping_plugin_from_an_entry_point_does_not_hide_the_raw_norm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """grad_health reads in on_after_backward, which fires before any on_before_optimizer_step:
    whatever clips, wherever it is registered (an entry point registers after every built-in)."""
    (tmp_path / "tight_clip_pkg.py").write_text(THIRD_PARTY_CLIP)
    dist = tmp_path / "tight_clip_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tight-clip-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[harness]\ntight_clip = tight_clip_pkg:TightClip\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    available = discover_plugins()
    assert available["tight_clip"].source == "tight-clip-pkg"  # found through the entry point
    clip = available["tight_clip"].cls
    clip.seen.clear()

    run = train_tiny(
        {"distillation": {"loss": "mse"}, "tight_clip": True}, workload=tiny_patch_workload(), epochs=1, batch_size=32
    )
    assert run.trace["on_before_optimizer_step"] == {"tight_clip": 4}
    assert run.trace["on_after_backward"]["grad_health"] == 4
    assert len(clip.seen) == 4 and max(clip.seen) > 100
    assert run.history[0]["grad_norm_max"] == pytest.approx(max(clip.seen), rel=1e-5)  # unclipped, not 1e-3
    assert run.history[0]["grad_norm_mean"] == pytest.approx(sum(clip.seen) / 4, rel=1e-5)
    assert run.finding_epochs("grad_explosion") == [1]


def test_it_reads_gradients_in_true_scale_under_fp16_loss_scaling() -> None:
    """mixed_precision's fp16 GradScaler unscales at the end of the step's backward, so the
    monitor's norm is the fp32 one (within fp16 rounding), not 65536 times it."""
    fp32 = train_tiny({}, workload=tiny_workload(), epochs=1)
    fp16 = train_tiny({"mixed_precision": {"dtype": "fp16"}}, workload=tiny_workload(), epochs=1)
    assert fp16.trace["backward"] == {"mixed_precision": 3}
    assert fp16.history[0]["grad_norm_max"] == pytest.approx(fp32.history[0]["grad_norm_max"], rel=0.05)


def test_a_spike_on_an_epochs_last_partial_batch_is_not_an_explosion() -> None:
    """The fixed issue-11 runs: the last batch of an epoch holds 4 of 64 items, and its gradient
    norm reached 13-48 (100-300x the early norm) in 5 of 20 seeds. A spike elsewhere still counts."""
    from types import SimpleNamespace

    def run(spike_at: int, items: int):
        weight = torch.nn.Parameter(torch.zeros(2))
        loader = SimpleNamespace(batch_size=64, dataset=[0] * items, drop_last=False)
        state = bare_state(model=torch.nn.ParameterList([weight]), train_loader=loader)
        state.hparams.batches_per_epoch = 20
        monitor = GradHealth()
        for epoch in (1, 2):
            state.epoch = epoch
            for index in range(20):
                state.batch_index = index
                norm = 30.0 if (epoch == 2 and index == spike_at) else 0.15
                weight.grad = torch.tensor([0.6, 0.8]) * norm
                monitor.on_after_backward(state)
                state.step += 1
            monitor.on_epoch_end(state, {})
        return [(f.kind, f.step) for f in state.findings]

    assert run(spike_at=19, items=19 * 64 + 4) == []  # the last batch holds 4 items
    assert run(spike_at=19, items=20 * 64) == [("grad_explosion", 40)]  # a full last batch is judged
    assert run(spike_at=10, items=19 * 64 + 4) == [("grad_explosion", 31)]


def test_a_model_that_fits_its_data_has_small_gradients_by_right_not_vanishing_ones() -> None:
    """wine at lr 0.05 reaches F1 1.0 and a loss near 0: some steps' norms fall below 1e-6 (they did
    flag `grad_vanishing`); with the epoch's loss below 10% of the start they are not judged."""
    from harness.testing import tiny_tabular_workload, train_tiny

    for seed in (0, 2):
        run = train_tiny({}, workload=tiny_tabular_workload(), epochs=6, batch_size=16, lr=5e-2, seed=seed)
        assert run.state.history[-1]["f1"] == 1.0
        assert run.finding_epochs("grad_vanishing") == [] and run.finding_epochs("train_val_divergence") == []


def test_a_step_whose_own_loss_is_fitted_is_not_vanishing_though_its_epochs_mean_is_not() -> None:
    """A model that learns fast fits its batches within epoch 1: a norm of 1e-8 at a step whose loss
    fell from 1.0 to 1e-7 is fitting, though the epoch's mean loss (0.5, its start counted) is not."""
    weight = torch.nn.Parameter(torch.zeros(2))
    state = bare_state(model=torch.nn.ParameterList([weight]))
    monitor = GradHealth(GradHealth.Params(start_steps=2))
    state.epoch = 1
    for norm, loss in ((1.0, 1.0), (1.0, 1.0), (1e-8, 1e-7), (1e-8, 0.9)):
        weight.grad = torch.tensor([0.6, 0.8]) * norm
        monitor.on_after_backward(state)
        state.step += 1
        monitor.on_step(state, torch.tensor(loss))
    monitor.on_epoch_end(state, {"loss": 0.5})
    found = [(f.kind, f.step) for f in state.findings]
    assert found == [("grad_vanishing", 4)]  # step 3 fitted its batch; step 4's loss is still 0.9
    assert "1 of 4 steps" in state.findings[0].message

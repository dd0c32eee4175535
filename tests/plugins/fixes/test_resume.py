"""A run stopped after epoch 1 and resumed from its checkpoint ends bit-identical to an uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from harness.core.hookspecs import hookimpl
from harness.core.pluginmanager import PluginError
from harness.plugins.fixes.checkpoint import atomic_torch_save, load_checkpoint
from harness.testing import run_tiny, tiny_workload

# dropout on (global torch RNG), shuffling (the loader's own generator), AdamW moments
# and a per-step warmup/decay schedule: everything a resume has to carry over
TRAIN = dict(epochs=3, batch_size=16, lr=1e-3, warmup_ratio=0.3)
PLUGINS: dict[str, Any] = {"linear_warmup": {"interval": "step"}, "grad_clip": {"max_norm": 1.0}, "checkpoint": {}}


class StopAfter:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    @hookimpl
    def on_epoch_end(self, state: Any) -> None:
        if state.epoch == self.epoch:
            state.request_stop(f"interrupted after epoch {self.epoch}")


@pytest.fixture(scope="module")
def workload() -> Any:
    return tiny_workload(hidden_dropout=0.1)


@pytest.fixture(scope="module")
def uninterrupted(workload: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    state, status, _ = run_tiny(PLUGINS, workload=workload, run_dir=tmp_path_factory.mktemp("full"), **TRAIN)
    assert status == "ok"
    return state


@pytest.fixture(scope="module")
def epoch1_checkpoint(workload: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("interrupted")
    state, status, _ = run_tiny(PLUGINS, observers=(StopAfter(1),), workload=workload, run_dir=run_dir, **TRAIN)
    assert status == "stopped" and len(state.history) == 1
    return run_dir / "checkpoint.pt"


def resume_from(workload: Any, path: Path, tmp_path: Path) -> Any:
    plugins = PLUGINS | {"resume": {"path": str(path)}}
    state, status, trace = run_tiny(plugins, workload=workload, run_dir=tmp_path, **TRAIN)
    assert status == "ok"
    assert trace["on_train_start"]["resume"] == 1
    return state


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=False):
        assert torch.equal(x, y), name


def test_resumed_run_is_bit_identical_to_uninterrupted(
    workload: Any, uninterrupted: Any, epoch1_checkpoint: Path, tmp_path: Path
) -> None:
    resumed = resume_from(workload, epoch1_checkpoint, tmp_path)
    assert resumed.outcomes["resumed_from_epoch"] == 1
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert_same_weights(uninterrupted.model, resumed.model)
    opt_a, opt_b = uninterrupted.optimizer.state_dict(), resumed.optimizer.state_dict()
    for index, moments in opt_a["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(moments[key], opt_b["state"][index][key]), (index, key)
    assert uninterrupted.scheduler.state_dict() == resumed.scheduler.state_dict()
    assert resumed.step == uninterrupted.step == 3 * 6
    assert resumed.lr_per_step == uninterrupted.lr_per_step
    assert resumed.history == uninterrupted.history
    assert torch.equal(resumed.train_loader.generator.get_state(), uninterrupted.train_loader.generator.get_state())
    final_a = load_checkpoint(uninterrupted.last_checkpoint.path, weights_only=True)
    final_b = load_checkpoint(resumed.last_checkpoint.path, weights_only=True)
    assert torch.equal(final_a["rng"]["torch"], final_b["rng"]["torch"])  # dropout drew the same numbers


@pytest.mark.parametrize("stream", ["train_loader", "torch"])
def test_without_a_random_stream_the_resume_diverges(
    workload: Any, uninterrupted: Any, epoch1_checkpoint: Path, tmp_path: Path, stream: str
) -> None:
    checkpoint = load_checkpoint(epoch1_checkpoint, weights_only=True)
    del checkpoint["rng"][stream]  # a resume that forgets the loader's shuffle generator / dropout's RNG
    partial = tmp_path / f"no-{stream}-rng.pt"
    atomic_torch_save(checkpoint, partial)
    resumed = resume_from(workload, partial, tmp_path / "run")
    assert resumed.step == uninterrupted.step  # same amount of training ...
    differs = [
        n
        for (n, x), y in zip(
            uninterrupted.model.state_dict().items(), resumed.model.state_dict().values(), strict=False
        )
        if not torch.equal(x, y)
    ]
    assert differs  # ... on batches in another order, or with other dropout masks


def test_resume_refuses_a_v15_checkpoint(workload: Any, tmp_path: Path) -> None:
    state, _, _ = run_tiny(
        {"checkpoint": {"format": "v15_objects"}}, workload=workload, run_dir=tmp_path / "v15", epochs=1
    )
    with pytest.raises(PluginError, match="resume.*on_train_start.*UnpicklingError"):
        run_tiny({"resume": {"path": str(state.last_checkpoint.path)}}, workload=workload, **TRAIN)


def test_resume_refuses_a_checkpoint_from_the_last_epoch(workload: Any, uninterrupted: Any, tmp_path: Path) -> None:
    path = Path(uninterrupted.last_checkpoint.path)
    with pytest.raises(PluginError, match="saved after epoch 3, the run has only 3"):
        run_tiny({"resume": {"path": str(path)}}, workload=workload, **TRAIN)

"""The exact hook call sequence of a 2-epoch run (as Lightning's test_hooks does)."""

from __future__ import annotations

from typing import Any

from harness.core.hookspecs import hookimpl
from harness.testing import run_tiny


class Recorder:
    """Observes every hook and returns nothing, so defaults still answer firstresult hooks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _rec(self, name: str) -> None:
        self.calls.append(name)

    @hookimpl(tryfirst=True)
    def on_setup(self) -> None:
        self._rec("on_setup")

    @hookimpl(tryfirst=True)
    def make_criterion(self) -> None:
        self._rec("make_criterion")

    @hookimpl(tryfirst=True)
    def make_optimizer(self) -> None:
        self._rec("make_optimizer")

    @hookimpl(tryfirst=True)
    def make_scheduler(self) -> None:
        self._rec("make_scheduler")

    @hookimpl(tryfirst=True)
    def on_train_start(self) -> None:
        self._rec("on_train_start")

    @hookimpl(tryfirst=True)
    def on_batch(self) -> None:
        self._rec("on_batch")

    @hookimpl(tryfirst=True)
    def forward_context(self) -> None:
        self._rec("forward_context")

    @hookimpl(tryfirst=True)
    def compute_loss(self) -> None:
        self._rec("compute_loss")

    @hookimpl(tryfirst=True)
    def extra_losses(self) -> None:
        self._rec("extra_losses")

    @hookimpl(tryfirst=True)
    def backward(self) -> None:
        self._rec("backward")

    @hookimpl(tryfirst=True)
    def on_after_backward(self) -> None:
        self._rec("on_after_backward")

    @hookimpl(tryfirst=True)
    def on_before_optimizer_step(self) -> None:
        self._rec("on_before_optimizer_step")

    @hookimpl(tryfirst=True)
    def optimizer_step(self) -> None:
        self._rec("optimizer_step")

    @hookimpl(tryfirst=True)
    def on_step(self) -> None:
        self._rec("on_step")

    @hookimpl(tryfirst=True)
    def on_batch_end(self) -> None:
        self._rec("on_batch_end")

    @hookimpl(tryfirst=True)
    def on_epoch_end(self) -> None:
        self._rec("on_epoch_end")

    @hookimpl(tryfirst=True)
    def save_checkpoint(self) -> None:
        self._rec("save_checkpoint")

    @hookimpl(tryfirst=True)
    def on_checkpoint(self) -> None:
        self._rec("on_checkpoint")

    @hookimpl(tryfirst=True)
    def on_train_end(self) -> None:
        self._rec("on_train_end")


BATCH = ["on_batch", "forward_context", "compute_loss", "extra_losses", "backward"]
# gradients are read (on_after_backward) before anything may change them (on_before_optimizer_step)
STEP = ["on_after_backward", "on_before_optimizer_step", "optimizer_step", "on_step"]


def expected_events(epochs: int, batches: int, accumulation: int, checkpoints: bool = True) -> list[str]:
    events = ["on_setup", "make_criterion", "make_optimizer", "make_scheduler", "on_train_start"]
    for _ in range(epochs):
        for index in range(batches):
            events += BATCH
            if (index + 1) % accumulation == 0 or index == batches - 1:
                events += STEP
            events += ["on_batch_end"]  # the batch as the loss saw it, read-only
        events += ["on_epoch_end"]
        if checkpoints:  # the writer saves, then readers check what was saved
            events += ["save_checkpoint", "on_checkpoint"]
    return events + ["on_train_end"]


def test_two_epoch_hook_sequence(tmp_path: Any) -> None:
    recorder = Recorder()
    state, status, _ = run_tiny(observers=(recorder,), epochs=2, batch_size=32, run_dir=tmp_path)
    assert status == "ok"
    assert state.hparams.batches_per_epoch == 3
    assert recorder.calls == expected_events(2, 3, 1)


def test_sequence_with_gradient_accumulation(tmp_path: Any) -> None:
    recorder = Recorder()
    state, _, _ = run_tiny(observers=(recorder,), epochs=2, batch_size=32, accumulation_steps=2, run_dir=tmp_path)
    assert recorder.calls == expected_events(2, 3, 2)
    assert state.step == 4  # ceil(3 / 2) optimizer steps per epoch


def test_no_checkpoint_hook_without_run_dir() -> None:
    recorder = Recorder()
    run_tiny(observers=(recorder,), epochs=1)
    assert "on_checkpoint" not in recorder.calls and "save_checkpoint" not in recorder.calls
    assert recorder.calls == expected_events(1, 3, 1, checkpoints=False)


class StepDue:
    """Records the ``step_due`` flag ``backward`` gets (returns None: the default still runs backward)."""

    def __init__(self) -> None:
        self.flags: list[bool] = []

    @hookimpl(tryfirst=True)
    def backward(self, step_due: bool) -> None:
        self.flags.append(step_due)


def test_backward_is_told_which_batch_completes_a_step() -> None:
    probe = StepDue()
    run_tiny(observers=(probe,), epochs=1, batch_size=16, accumulation_steps=4)  # 6 batches: steps after 4 and 6
    assert probe.flags == [False, False, False, True, False, True]

from __future__ import annotations

from harness.core.state import TrainState
from harness.plugins.fixes.collapse_stop import CollapseStop, Params

COLLAPSED = {"pred_count_0": 10, "pred_count_1": 0, "n": 10}
HEALTHY = {"pred_count_0": 5, "pred_count_1": 5, "n": 10}


def _drive(params: Params, sequence: list[dict]) -> tuple[int | None, str | None]:
    plugin = CollapseStop(params)
    state = TrainState.__new__(TrainState)
    state.stop_reason = None
    for epoch, metrics in enumerate(sequence, start=1):
        state.epoch = epoch
        plugin.on_epoch_end(state, metrics)
        if state.stop_requested:
            return epoch, state.stop_reason
    return None, None


def test_stops_after_two_consecutive_collapsed_epochs_from_epoch_3() -> None:
    assert _drive(Params(), [COLLAPSED, COLLAPSED, COLLAPSED, COLLAPSED])[0] == 3


def test_healthy_epoch_resets_the_streak() -> None:
    assert _drive(Params(), [HEALTHY, COLLAPSED, HEALTHY, COLLAPSED, HEALTHY]) == (None, None)
    assert _drive(Params(), [HEALTHY, HEALTHY, COLLAPSED, COLLAPSED, HEALTHY])[0] == 4


def test_slow_first_epoch_is_not_a_stop() -> None:
    assert _drive(Params(), [COLLAPSED, HEALTHY, HEALTHY]) == (None, None)


def test_run_ends_stopped_in_the_loop() -> None:
    import torch

    from harness.core.hookspecs import hookimpl
    from harness.testing import run_tiny

    class ForceMajority:
        @hookimpl
        def on_train_start(self, state) -> None:
            with torch.no_grad():
                state.model.classifier.out_proj.bias.copy_(torch.tensor([50.0, -50.0]))

    state, status, _ = run_tiny(
        {"collapse_stop": {"patience": 2, "start_epoch": 2}}, observers=(ForceMajority(),), epochs=5, lr=1e-9
    )
    assert status == "stopped"
    assert len(state.history) == 2
    assert "2 consecutive" in state.stop_reason

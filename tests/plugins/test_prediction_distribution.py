from __future__ import annotations

from types import SimpleNamespace

from harness.plugins.prediction_distribution import PredictionDistribution, Params, is_collapsed
from harness.state import TrainState


def _state(epoch: int) -> TrainState:
    s = TrainState.__new__(TrainState)
    s.findings, s.epoch = [], epoch
    return s


def test_is_collapsed() -> None:
    assert is_collapsed({"pred_positive": 0, "n": 10})
    assert is_collapsed({"pred_positive": 10, "n": 10})
    assert not is_collapsed({"pred_positive": 3, "n": 10})
    assert is_collapsed({"pred_positive": 1, "n": 10}, min_share=0.1)


def test_constant_predictor_records_collapse_with_epoch() -> None:
    monitor = PredictionDistribution(Params())
    state = _state(epoch=1)
    monitor.on_epoch_end(state, {"pred_positive": 4, "n": 10, "pred_positive_share": 0.4})
    state.epoch = 2
    monitor.on_epoch_end(state, {"pred_positive": 0, "n": 10, "pred_positive_share": 0.0})
    assert [(f.kind, f.epoch) for f in state.findings] == [("collapse", 2)]
    assert "0 (negative)" in state.findings[0].message


def test_collapse_on_a_real_constant_predictor() -> None:
    """A model whose classifier bias dwarfs everything predicts one class: collapse is found."""
    import torch

    from harness.hookspecs import hookimpl
    from harness.testing import run_tiny

    class ForceMajority:
        @hookimpl
        def on_train_start(self, state) -> None:
            with torch.no_grad():
                state.model.classifier.out_proj.bias.copy_(torch.tensor([50.0, -50.0]))

    state, _, _ = run_tiny({}, observers=(ForceMajority(),), epochs=1, lr=1e-9)
    assert [(f.kind, f.epoch) for f in state.findings] == [("collapse", 1)]
    assert state.history[0]["pred_positive"] == 0

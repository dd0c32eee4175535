from __future__ import annotations

from types import SimpleNamespace

from harness.plugins.prediction_distribution import Params, PredictionDistribution, is_collapsed
from harness.state import TrainState


def _state(epoch: int) -> TrainState:
    s = TrainState.__new__(TrainState)
    s.findings, s.epoch = [], epoch
    return s


def counts(*per_class: int) -> dict[str, int]:
    return {f"pred_count_{k}": c for k, c in enumerate(per_class)} | {"n": sum(per_class)}


def test_is_collapsed() -> None:
    assert is_collapsed(counts(10, 0))
    assert is_collapsed(counts(0, 10))
    assert not is_collapsed(counts(7, 3))
    assert is_collapsed(counts(9, 1), min_share=0.1)
    assert not is_collapsed(counts(8, 2), min_share=0.1)
    assert not is_collapsed({"n": 10})  # no class predictions: nothing to judge


def test_is_collapsed_for_ten_classes() -> None:
    assert is_collapsed(counts(0, 0, 0, 50, 0, 0, 0, 0, 0, 0))
    assert not is_collapsed(counts(5, 5, 5, 5, 5, 5, 5, 5, 5, 5))
    # all but min_share of the predictions in one class, the rest spread over the others
    assert is_collapsed(counts(1, 1, 0, 95, 1, 0, 0, 1, 0, 1), min_share=0.05)
    assert not is_collapsed(counts(1, 1, 0, 94, 1, 0, 0, 2, 0, 1), min_share=0.05)


def test_constant_predictor_records_collapse_with_epoch() -> None:
    monitor = PredictionDistribution(Params())
    state = _state(epoch=1)
    monitor.on_epoch_end(state, counts(6, 4))
    state.epoch = 2
    monitor.on_epoch_end(state, counts(10, 0))
    assert [(f.kind, f.epoch) for f in state.findings] == [("collapse", 2)]
    assert "predicted class 0 for 10/10" in state.findings[0].message
    assert state.findings[0].value == 1.0


def test_three_class_collapse_names_the_class() -> None:
    monitor = PredictionDistribution(Params())
    state = _state(epoch=1)
    monitor.on_epoch_end(state, counts(0, 0, 12))
    assert [(f.kind, f.epoch) for f in state.findings] == [("collapse", 1)]
    assert "predicted class 2 for 12/12 validation samples (3 classes)" in state.findings[0].message


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

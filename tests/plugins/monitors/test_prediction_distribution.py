from __future__ import annotations

from harness.plugins.monitors.prediction_distribution import Params, PredictionDistribution, is_collapsed, judged
from harness.testing import bare_state


def _state(epoch: int, lrs: list[float] | None = None):
    """A state at the end of ``epoch`` (one step per epoch unless ``lrs`` says otherwise), past the grace period."""
    s = bare_state()
    s.epoch = epoch
    s.lr_per_step = list(lrs) if lrs is not None else [1e-3] * epoch
    s.step, s.hparams.total_steps = len(s.lr_per_step), len(s.lr_per_step)
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
    state.epoch, state.step = 2, 2
    state.lr_per_step.append(1e-3)
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

    from harness.core.hookspecs import hookimpl
    from harness.testing import run_tiny

    class ForceMajority:
        @hookimpl
        def on_train_start(self, state) -> None:
            with torch.no_grad():
                state.model.classifier.out_proj.bias.copy_(torch.tensor([50.0, -50.0]))

    state, _, _ = run_tiny({}, observers=(ForceMajority(),), epochs=1, lr=1e-9)
    assert [(f.kind, f.epoch) for f in state.findings if f.plugin == "prediction_distribution"] == [("collapse", 1)]
    assert state.history[0]["pred_positive"] == 0


def test_single_class_epochs_while_warming_up_or_early_in_the_run_are_not_collapses() -> None:
    """The fixed issue-11 runs predict one class in their warmup epoch; a small transformer sits
    at the class prior for its first epoch. Neither is recorded; an epoch at LR 0 always is."""
    warmup = [0.1, 0.2, 0.3, 0.4]  # still rising at the epoch's last step
    assert not judged(warmup, 0, 4, 4, grace_share=0.0, during_warmup=False)
    assert judged(warmup, 0, 4, 4, grace_share=0.0, during_warmup=True)
    assert not judged([1e-3] * 4, 0, 4, 20, grace_share=0.25, during_warmup=False)  # 20% of the run done
    assert judged([1e-3] * 6, 2, 6, 20, grace_share=0.25, during_warmup=False)  # 30% done
    assert judged([0.0] * 4, 0, 4, 20, grace_share=0.25, during_warmup=False)  # LR 0: nothing trained


def test_the_monitor_applies_the_grace_period() -> None:
    monitor = PredictionDistribution(Params())
    state = _state(epoch=1, lrs=[1e-3] * 10)
    state.hparams.total_steps = 100
    monitor.on_epoch_end(state, counts(10, 0))
    assert state.findings == []
    monitor = PredictionDistribution(Params(grace_share=0.0))
    monitor.on_epoch_end(state, counts(10, 0))
    assert [f.kind for f in state.findings] == ["collapse"]


class Threshold:
    """A 1-feature workload whose fixed model predicts class 1 only for x > 0.5 (trained at LR ~0)."""

    @staticmethod
    def make(val_x: list[float], val_y: list[int]):
        import torch
        from torch.utils.data import TensorDataset

        from harness.workloads.base import Workload

        class Fixed(Workload):
            def build_model(self) -> torch.nn.Module:
                model = torch.nn.Linear(1, 2)
                with torch.no_grad():
                    model.weight.copy_(torch.tensor([[0.0], [10.0]]))
                    model.bias.copy_(torch.tensor([5.0, 0.0]))
                return model

            def datasets(self):
                x = torch.tensor(val_x).reshape(-1, 1)
                return TensorDataset(x, torch.tensor(val_y)), TensorDataset(x, torch.tensor(val_y))

        return Fixed()


def _near_run(val_x: list[float], val_y: list[int]):
    from harness.testing import train_tiny

    run = train_tiny({}, workload=Threshold.make(val_x, val_y), epochs=2, batch_size=25, lr=1e-12)
    return [(f["kind"], f["epoch"]) for f in run.findings if f["plugin"] == "prediction_distribution"]


def test_near_collapse_on_a_real_run_predicting_97_percent_one_class() -> None:
    x = [0.0] * 97 + [1.0] * 3  # 97 predictions of class 0, 3 of class 1
    assert _near_run(x, [0, 1] * 50) == [("near_collapse", 1), ("near_collapse", 2)]  # class 0: 50% of the labels
    assert _near_run(x, [0] * 97 + [1] * 3) == []  # class 0 really is 97% of the labels: not a collapse
    assert _near_run([0.0] * 100, [0, 1] * 50) == [("collapse", 1), ("collapse", 2)]  # all: collapse, never both

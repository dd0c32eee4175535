"""harness.testing helpers train any workload, not only the tiny devign default."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict

from harness import Workload
from harness.testing import make_state, run_tiny, train_tiny


class UserMLP(Workload):
    """What a user writes: a 2-layer MLP on random tensors; every other method is the default."""

    name = "user_mlp"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        features: int = 8
        hidden: int = 16
        classes: int = 2

    def build_model(self) -> torch.nn.Module:
        p = self.params
        return torch.nn.Sequential(
            torch.nn.Linear(p.features, p.hidden), torch.nn.ReLU(), torch.nn.Linear(p.hidden, p.classes)
        )

    def datasets(self):
        p = self.params
        g = torch.Generator().manual_seed(7)
        x = torch.randn(192, p.features, generator=g)
        y = (x[:, 0] > 0).long() + ((x[:, 1] > 0.5).long() if p.classes == 3 else 0)
        ds = torch.utils.data.TensorDataset
        return ds(x[:128], y[:128]), ds(x[128:], y[128:])


def test_make_state_builds_the_users_model_and_loaders() -> None:
    state = make_state(UserMLP(), batch_size=16, lr=0.01)
    assert isinstance(state.model, torch.nn.Sequential)
    assert len(state.train_loader) == 128 // 16 and state.hparams.lr == 0.01
    assert set(next(iter(state.train_loader))) == {"inputs", "labels"}


def test_train_tiny_trains_a_user_workload_with_classification_metrics() -> None:
    workload = UserMLP()
    before = [p.detach().clone() for p in make_state(workload).model.parameters()]  # same seed: same init
    run = train_tiny({}, workload=workload, epochs=2, lr=0.01)
    assert run.status == "ok" and len(run.history) == 2
    last = run.history[-1]
    assert {"accuracy", "macro_f1", "pred_count_0", "pred_count_1", "val_loss"} <= set(last)
    assert last["pred_count_0"] + last["pred_count_1"] == 64
    assert 0.0 <= last["accuracy"] <= 1.0 and 0.0 <= last["macro_f1"] <= 1.0
    assert all(not torch.equal(b, a) for b, a in zip(before, run.state.model.parameters(), strict=False))
    assert run.acted("defaults", "make_optimizer") and run.acted("prediction_distribution")


def test_run_tiny_and_a_fix_on_a_three_class_user_workload() -> None:
    state, status, trace = run_tiny(
        {"grad_clip": {"max_norm": 0.1}}, workload=UserMLP(UserMLP.Params(classes=3)), epochs=1
    )
    assert status == "ok"
    assert trace["on_before_optimizer_step"]["grad_clip"] == state.step == 4
    assert {"pred_count_0", "pred_count_1", "pred_count_2", "macro_f1"} <= set(state.history[-1])

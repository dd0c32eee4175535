"""The workload contract's defaults: collate, forward, loss, train labels and evaluation.

A user writes only ``Params``, ``build_model`` and ``datasets``; these tests hold the
defaults to what docs/workloads.md promises, on real tensors and a real model.
"""

from __future__ import annotations

import pytest
import torch
from pydantic import BaseModel
from torch.utils.data import TensorDataset

from harness import Workload
from harness.core.metrics import CLASSIFICATION_METRICS, metric_matches


class Blobs(Workload):
    """Three Gaussian blobs in 2-D, an MLP: the smallest honest classifier."""

    class Params(BaseModel):
        hidden: int = 16
        classes: int = 3

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(2, self.params.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.params.hidden, self.params.classes),
        )

    def datasets(self):
        g = torch.Generator().manual_seed(0)
        centers = torch.tensor([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])[: self.params.classes]
        labels = torch.arange(300) % self.params.classes
        x = centers[labels] + torch.randn(300, 2, generator=g)
        return TensorDataset(x[:240], labels[:240]), TensorDataset(x[240:], labels[240:])


def test_default_collate_of_tuples_and_of_dicts() -> None:
    w = Blobs()
    batch = w.collate([(torch.ones(2), torch.tensor(1)), (torch.zeros(2), torch.tensor(0))])
    assert set(batch) == {"inputs", "labels"} and batch["inputs"].shape == (2, 2)
    assert batch["labels"].tolist() == [1, 0]
    dicts = w.collate([{"x": torch.ones(3), "label": 2}, {"x": torch.zeros(3), "label": 0}])
    assert set(dicts) == {"x", "labels"} and dicts["labels"].tolist() == [2, 0]  # "label" becomes "labels"


def test_default_forward_calls_the_model_with_inputs_or_features() -> None:
    class Named(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    w = Blobs()
    assert w.forward(Named(), {"inputs": torch.ones(1, 2), "labels": torch.zeros(1)}).tolist() == [[2.0, 2.0]]
    assert w.forward(Named(), {"x": torch.ones(1, 2), "labels": torch.zeros(1)}).tolist() == [[2.0, 2.0]]


def test_logits_of_hf_style_and_tuple_outputs() -> None:
    from types import SimpleNamespace

    t = torch.randn(2, 3)
    w = Blobs()
    assert w.logits(SimpleNamespace(logits=t)) is t and w.logits((t, None)) is t and w.logits(t) is t


def test_default_criterion_is_mean_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    got = Blobs().default_criterion()(logits, {"labels": labels})
    assert got.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())


def test_train_labels_read_once_from_any_dataset() -> None:
    class DictItems(Blobs):
        calls = 0

        def datasets(self):
            DictItems.calls += 1
            return [{"x": torch.zeros(2), "labels": k % 3} for k in range(7)], []

    w = DictItems()
    assert w.train_labels().tolist() == [0, 1, 2, 0, 1, 2, 0]
    w.train_labels()
    assert DictItems.calls == 1  # cached
    assert Blobs().train_labels().tolist()[:4] == [0, 1, 2, 0]  # TensorDataset: its last tensor


def test_evaluate_gives_the_core_metrics_for_three_classes() -> None:
    w = Blobs()
    model = w.build_model()
    _, val = w.datasets()
    loader = torch.utils.data.DataLoader(val, batch_size=16, collate_fn=w.collate)
    metrics = w.evaluate(model, loader, torch.device("cpu"))
    assert model.training  # evaluation restores the mode it found
    assert {"accuracy", "macro_f1", "f1", "auc", "val_loss", "max_pred_share", "n"} <= set(metrics)
    assert [metrics[f"pred_count_{k}"] for k in range(3)] and "pred_count_3" not in metrics
    assert sum(metrics[f"pred_count_{k}"] for k in range(3)) == metrics["n"] == 60
    assert all(metric_matches(name, CLASSIFICATION_METRICS) for name in metrics)


def test_a_user_workload_learns_through_the_harness_loop() -> None:
    from harness.testing import train_tiny

    run = train_tiny({}, workload=Blobs(), epochs=4, lr=1e-2, batch_size=32)
    assert run.status == "ok"
    assert run.history[-1]["accuracy"] >= 0.95  # learnt the blobs
    assert run.history[-1]["max_pred_share"] < 0.5
    assert "collapse" not in {f["kind"] for f in run.findings}


def test_a_zero_initialised_head_with_no_learning_is_a_three_class_collapse() -> None:
    from harness.core.hookspecs import hookimpl
    from harness.testing import train_tiny

    class ZeroHead:
        @hookimpl
        def on_train_start(self, state) -> None:
            with torch.no_grad():
                state.model[-1].weight.zero_()
                state.model[-1].bias.zero_()

    run = train_tiny({}, workload=Blobs(), observers=(ZeroHead(),), epochs=1, lr=1e-12, batch_size=32)
    assert run.finding_epochs("collapse") == [1]
    assert run.history[0]["max_pred_share"] == 1.0 and run.history[0]["pred_count_0"] == 60


def test_missing_methods_name_the_workload() -> None:
    class Empty(Workload):
        pass

    with pytest.raises(NotImplementedError, match="Empty must implement build_model"):
        Empty().build_model()
    with pytest.raises(NotImplementedError, match="Empty must implement datasets"):
        Empty().datasets()

"""bug_softmax_before_ce: the model's class logits become probabilities before the cross-entropy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from harness.plugins.bugs.bug_softmax_before_ce import BugSoftmaxBeforeCE, as_probabilities
from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


def test_probabilities_softmax_rows_and_sigmoid_single_logits() -> None:
    rows = as_probabilities(torch.tensor([[2.0, -1.0, 0.5]]))
    assert float(rows.sum()) == pytest.approx(1.0) and bool((rows > 0).all())
    assert torch.allclose(as_probabilities(torch.tensor([0.0, 3.0])), torch.sigmoid(torch.tensor([0.0, 3.0])))


@pytest.mark.parametrize("workload", [tiny_tabular_workload, tiny_workload], ids=["mlp", "hf-roberta"])
def test_the_loss_gets_probabilities_and_probability_outputs_finds_it(workload) -> None:
    run = train_tiny({"bug_softmax_before_ce": True}, workload=workload(), epochs=1, batch_size=32, lr=1e-2)
    assert run.status == "ok"
    assert run.finding_epochs("probability_outputs") == [1]
    clean = train_tiny({}, workload=workload(), epochs=1, batch_size=32, lr=1e-2)
    assert clean.finding_epochs("probability_outputs") == []


def test_a_model_without_class_logits_is_a_clear_error() -> None:
    class Scores(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> dict:
            return {"scores": x}

    model = Scores()
    BugSoftmaxBeforeCE().on_setup(SimpleNamespace(model=model))
    with pytest.raises(TypeError, match="needs a model that returns class logits"):
        model(torch.zeros(2))

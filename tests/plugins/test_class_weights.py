from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.plugins.class_weights import inverse_frequency_weights
from harness.testing import run_tiny


def test_inverse_frequency_matches_incident_numbers() -> None:
    labels = torch.tensor([0] * 11836 + [1] * 10018)
    w = inverse_frequency_weights(labels)
    assert w[0].item() == pytest.approx(21854 / (2 * 11836), rel=1e-6)  # ~0.923
    assert w[1].item() == pytest.approx(21854 / (2 * 10018), rel=1e-6)  # ~1.091
    assert w[1] > w[0]


def test_criterion_weights_minority_class_and_smooths() -> None:
    state, _, trace = run_tiny({"class_weights": {"label_smoothing": 0.05}}, epochs=1)
    assert trace["make_criterion"] == {"class_weights": 1}
    labels = state.workload.train_labels()
    expected = inverse_frequency_weights(labels)
    assert state.stash["class_weights"] == pytest.approx(expected.tolist())
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0]])
    batch = {"labels": torch.tensor([0, 1, 1])}
    got = state.criterion(logits, batch)
    want = F.cross_entropy(logits, batch["labels"], weight=expected, label_smoothing=0.05)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert got.item() != pytest.approx(F.cross_entropy(logits, batch["labels"]).item(), rel=1e-3)

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.plugins.fixes.class_weights import inverse_frequency_weights
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
    assert state.outcomes["class_weights"] == pytest.approx(expected.tolist())  # in the run record
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0]])
    batch = {"labels": torch.tensor([0, 1, 1])}
    got = state.criterion(logits, batch)
    want = F.cross_entropy(logits, batch["labels"], weight=expected, label_smoothing=0.05)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert got.item() != pytest.approx(F.cross_entropy(logits, batch["labels"]).item(), rel=1e-3)


def test_ten_class_weights_are_inverse_frequency() -> None:
    counts = torch.tensor([50, 5, 20, 1, 100, 7, 3, 30, 9, 2])
    labels = torch.repeat_interleave(torch.arange(10), counts)
    w = inverse_frequency_weights(labels)
    assert w.shape == (10,)
    assert w.tolist() == pytest.approx((counts.sum() / (10 * counts.double())).tolist(), rel=1e-6)
    assert int(w.argmax()) == 3 and int(w.argmin()) == 4  # the rarest class weighs most
    # a class that never occurs gets a finite weight, and num_classes pads the vector
    assert torch.isfinite(inverse_frequency_weights(torch.tensor([0, 0, 2]), num_classes=5)).all()
    assert inverse_frequency_weights(torch.tensor([0, 0, 2]), num_classes=5).shape == (5,)


def test_it_replaces_the_v15_sample_weighted_loss_where_both_are_enabled() -> None:
    """Both answer make_criterion: class_weights declares it replaces sample_weighted_loss, so
    that one is switched off (not silently winning by registration order, as it did)."""
    from harness.plugins.fixes.class_weights import ClassWeights

    assert ClassWeights.replaces == ("sample_weighted_loss",)
    state, _, trace = run_tiny({"sample_weighted_loss": True, "class_weights": True}, epochs=1)
    assert trace["make_criterion"] == {"class_weights": 1}
    assert "sample_weighted_loss" not in {p for hooks in trace.values() for p in hooks}
    assert "class_weights" in state.outcomes


def test_on_a_script_its_training_cross_entropy_is_weighted_by_the_labels_seen_so_far() -> None:
    from .script_helpers import fixes_on_script

    logits = torch.randn(8, 3, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])  # class 0: 6 of 8
    criterion = torch.nn.CrossEntropyLoss()
    with fixes_on_script({"class_weights": {"label_smoothing": 0.0}}):
        weighted = criterion(logits, labels)
        with torch.no_grad():
            validation = criterion(logits, labels)  # not training: unweighted
    weights = torch.tensor([8 / (3 * 6), 8 / 3, 8 / 3])
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=weights)
    assert float(weighted.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert float(validation) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-5)

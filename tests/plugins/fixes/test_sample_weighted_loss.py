from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.plugins.fixes.sample_weighted_loss import sample_weighted_cross_entropy
from harness.testing import run_tiny


def test_unit_weights_equal_plain_mean() -> None:
    logits = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 0, 0, 1, 1, 0, 1])
    v15 = sample_weighted_cross_entropy(logits, labels, torch.ones(8))
    assert v15.item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)


def test_weights_reweight_samples() -> None:
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([1, 1])  # first sample is badly wrong
    per = F.cross_entropy(logits, labels, reduction="none")
    got = sample_weighted_cross_entropy(logits, labels, torch.tensor([2.0, 0.0]))
    assert got.item() == pytest.approx((per[0] * 2.0 / 2).item(), rel=1e-6)


def test_plugin_installs_v15_criterion() -> None:
    state, _, trace = run_tiny({"sample_weighted_loss": True}, epochs=1)
    assert trace["make_criterion"] == {"sample_weighted_loss": 1}
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    batch = {"labels": torch.tensor([0, 0])}
    assert state.criterion(logits, batch).item() == pytest.approx(F.cross_entropy(logits, batch["labels"]).item())

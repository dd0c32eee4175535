"""probability_outputs monitor: the loss fed probabilities instead of logits for a whole epoch."""

from __future__ import annotations

import torch

from harness.plugins.monitors.probability_outputs import ProbabilityOutputs, looks_like_probabilities
from harness.testing import bare_state
from harness.workloads.base import Workload


def test_probabilities_rows_and_single_logits() -> None:
    assert bool(looks_like_probabilities(torch.softmax(torch.randn(4, 3), dim=-1), 1e-2))
    assert not bool(looks_like_probabilities(torch.randn(4, 3), 1e-2))
    assert not bool(looks_like_probabilities(torch.rand(4, 3), 1e-2))  # in [0, 1] but rows do not sum to 1
    assert bool(looks_like_probabilities(torch.sigmoid(torch.randn(8)), 1e-2))


class Classifier(Workload):
    """A classifier (the core's classification metrics); ``logits`` passes a tensor through."""


class Scores(Workload):
    metrics = ("auc",)  # its own metrics: not a classifier


def test_every_batch_of_the_epoch_must_look_like_probabilities() -> None:
    state = bare_state(workload=Classifier())
    monitor = ProbabilityOutputs()
    state.epoch = 1
    for _ in range(3):
        monitor.on_batch_end(state, torch.softmax(torch.randn(4, 2), dim=-1))
    monitor.on_epoch_end(state)
    assert [f.kind for f in state.findings] == ["probability_outputs"]
    state.epoch = 2
    monitor.on_batch_end(state, torch.softmax(torch.randn(4, 2), dim=-1))
    monitor.on_batch_end(state, torch.randn(4, 2))  # one batch of real logits: not the mistake
    monitor.on_epoch_end(state)
    assert len(state.findings) == 1


def test_outputs_that_are_not_class_logits_are_not_judged() -> None:
    from dataclasses import dataclass

    @dataclass
    class PatchOutputs:
        patch_logits: torch.Tensor

    state = bare_state(workload=Classifier())
    monitor = ProbabilityOutputs()
    monitor.on_batch_end(state, PatchOutputs(torch.rand(2, 4)))
    monitor.on_epoch_end(state)
    assert state.findings == []
    state = bare_state(workload=Scores())  # a workload that is not a classifier: its tensors are not judged
    monitor.on_batch_end(state, torch.softmax(torch.randn(4, 2), dim=-1))
    monitor.on_epoch_end(state)
    assert state.findings == []

"""bug_shuffled_labels: every batch's labels are permuted independently of its inputs."""

from __future__ import annotations

import torch

from harness.core.hookspecs import hookimpl
from harness.testing import tiny_tabular_workload, train_tiny


class SeeLabels:
    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    @hookimpl
    def on_batch_end(self, batch) -> None:
        self.seen.append(batch["labels"].clone())


def test_labels_are_permuted_within_the_batch_and_the_run_learns_nothing() -> None:
    clean, bugged = SeeLabels(), SeeLabels()
    workload = tiny_tabular_workload()
    train_tiny({}, observers=(clean,), workload=workload, epochs=1, batch_size=16, lr=1e-2)
    run = train_tiny(
        {"bug_shuffled_labels": True, "linear_warmup": {"interval": "step"}},
        observers=(bugged,),
        workload=workload,
        epochs=4,
        batch_size=16,
        lr=1e-2,
    )
    first, shuffled = clean.seen[0], bugged.seen[0]
    assert sorted(first.tolist()) == sorted(shuffled.tolist()) and not torch.equal(first, shuffled)
    assert max(run.metric("accuracy")) < 0.9
    assert run.finding_epochs("no_convergence")  # the loss stays at the class prior's entropy

"""A watched run and a replayed run of the same training are diagnosed alike: the doctor's evidence
reads only what both run records hold (the same class-count keys, recorded values, no message text),
so both rank the same cause first."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

import harness
from harness.core.diagnosis import declared_causes, most_likely, rank_causes
from harness.scenario.arms import catalogue
from harness.testing import train_tiny

EPOCHS, BATCH, LR, CLASSES = 4, 32, 1e-2, 4


def _items(n: int, seed: int, *, shuffled: bool) -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 8, generator=g)
    y = X[:, :CLASSES].argmax(dim=1)
    if shuffled:  # the user's bug: labels shuffled apart from their inputs
        y = y[torch.randperm(n, generator=g)]
    return [(X[i], int(y[i])) for i in range(n)]


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, CLASSES))


class ShuffledLabels(harness.Workload):
    """The same training as :func:`_watched`'s loop, replayed as a workload."""

    def build_model(self) -> nn.Module:
        return _model()

    def datasets(self) -> tuple[Any, Any]:
        return _items(512, 0, shuffled=True), _items(128, 1, shuffled=False)


def _watched() -> dict[str, Any]:
    train, _ = ShuffledLabels().datasets()
    torch.manual_seed(0)
    model = _model()
    loader = DataLoader(train, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    with harness.watch() as w:
        for _ in range(EPOCHS):
            model.train()
            for xb, yb in loader:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(xb), yb).backward()
                optimizer.step()
    return w.record(batch_size=BATCH, lr=LR)


def _replayed() -> dict[str, Any]:
    run = train_tiny({}, workload=ShuffledLabels(), epochs=EPOCHS, batch_size=BATCH, lr=LR)
    return {
        "findings": run.findings,
        "history": run.history,
        "lr_per_step": run.lr_per_step,
        "steps": run.state.step,
        "train": {"batch_size": BATCH, "lr": LR, "epochs": EPOCHS},
    }


def _top_cause(record: dict[str, Any]) -> tuple[str, str]:
    kinds: dict[str, int] = {}
    for finding in record["findings"]:
        kinds[finding["kind"]] = 1
    ranked = most_likely(rank_causes(kinds, declared_causes(catalogue()), [record]))
    assert ranked, f"no cause for {sorted(kinds)}"
    return ranked[0]["cause"], ranked[0]["verdict"]


def test_a_watched_and_a_replayed_run_of_the_same_training_rank_the_same_cause_first() -> None:
    watched, replayed = _watched(), _replayed()
    assert any(f"pred_count_{CLASSES - 1}" in h for h in watched["history"])  # watch counts the classes too
    assert _top_cause(watched) == _top_cause(replayed) == ("labels that do not match the inputs", "supports")

"""The loop's own arithmetic: total optimizer steps, and the weighted sum of named loss terms."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from harness.core.hookspecs import hookimpl
from harness.core.loop import weighted
from harness.core.state import total_optimizer_steps
from harness.testing import run_tiny


@pytest.mark.parametrize(("accumulation", "per_epoch"), [(1, 6), (2, 3), (3, 2), (4, 2), (5, 2)])
def test_total_steps_are_optimizer_steps(accumulation: int, per_epoch: int) -> None:
    """ceil(batches / accumulation) x epochs: the last partial window steps too (96 samples / 16 = 6 batches)."""
    state, _, _ = run_tiny({}, epochs=3, batch_size=16, accumulation_steps=accumulation)
    assert state.hparams.total_steps == per_epoch * 3 == total_optimizer_steps(6, accumulation, 3)
    assert state.step == state.hparams.total_steps  # the count is what the loop really takes
    assert len(state.lr_per_step) == state.hparams.total_steps


def test_total_optimizer_steps_rounds_up() -> None:
    assert [total_optimizer_steps(7, a, 2) for a in (1, 2, 3, 7, 8)] == [14, 8, 6, 2, 2]


def test_a_weight_of_one_multiplies_nothing() -> None:
    x = torch.tensor(2.0, requires_grad=True)
    assert weighted({}, "task", x) is x and weighted({"task": 1.0}, "task", x) is x
    assert float(weighted({"task": 0.25}, "task", x).detach()) == 0.5
    assert weighted({"distill": 0.3}, "task", x) is x  # another term's weight does not apply


class Terms:
    """Adds two named terms and sets their weights (as a plugin would in on_setup)."""

    @hookimpl
    def on_setup(self, state: Any) -> None:
        state.hparams.loss_weights.update({"task": 0.0, "double": 2.0})

    @hookimpl
    def extra_losses(self, outputs: Any) -> dict[str, torch.Tensor]:
        return {"double": outputs.float().pow(2).mean(), "plain": torch.tensor(1.0)}


class LossProbe:
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.expected: list[float] = []

    @hookimpl
    def on_batch_end(self, outputs: Any, loss: torch.Tensor) -> None:
        self.losses.append(float(loss))
        self.expected.append(float(2.0 * outputs.detach().float().pow(2).mean() + 1.0))


def test_the_core_weights_each_named_term() -> None:
    """loss = 0 x task + 2 x double + 1 x plain (no weight: 1)."""
    probe = LossProbe()
    run_tiny({}, observers=(Terms(), probe), epochs=1)
    assert probe.losses == pytest.approx(probe.expected, rel=1e-6)

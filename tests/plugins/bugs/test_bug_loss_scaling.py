"""bug_loss_scaling: the loss times the batch size (sum), times or divided by the accumulation steps."""

from __future__ import annotations

import pytest
import torch

from harness.core.hookspecs import hookimpl
from harness.testing import tiny_tabular_workload, train_tiny


class FirstLoss:
    def __init__(self) -> None:
        self.losses: list[float] = []

    @hookimpl
    def on_batch_end(self, loss) -> None:
        self.losses.append(float(loss))


@pytest.mark.parametrize(("mode", "factor"), [("sum", 16), ("not_divided", 2), ("divided_twice", 0.5)])
def test_each_mode_scales_the_task_loss(mode: str, factor: float) -> None:
    clean, bugged = FirstLoss(), FirstLoss()
    workload = tiny_tabular_workload()
    for observer, plugins in ((clean, {}), (bugged, {"bug_loss_scaling": {"mode": mode}})):
        train_tiny(plugins, observers=(observer,), workload=workload, epochs=1, batch_size=16, accumulation_steps=2)
    assert bugged.losses[0] == pytest.approx(factor * clean.losses[0], rel=1e-5)


def test_summed_under_sgd_the_start_loss_is_far_above_log_c() -> None:
    run = train_tiny(
        {"bug_loss_scaling": {"mode": "sum"}, "optimizer": {"name": "sgd", "momentum": 0.9}},
        workload=tiny_tabular_workload(),
        epochs=1,
        batch_size=16,
        lr=1e-2,
    )
    assert run.finding_epochs("bad_initial_loss") == [1]
    assert run.findings[0]["value"] > 3 * torch.log(torch.tensor(3.0)).item()

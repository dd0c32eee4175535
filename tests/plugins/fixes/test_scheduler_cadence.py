"""scheduler_cadence fix: the script's own scheduler stepped per optimizer step, or per DataLoader pass."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from .script_helpers import fixes_on_script


def lrs_of_a_script(make_scheduler: str, per_step: bool, epochs: int = 3) -> list[float]:
    """The LR each optimizer step ran at, in a script that steps its scheduler per batch or per pass."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    loader = DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,))), batch_size=8)  # 4 steps a pass
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    if make_scheduler == "warmup":  # planned in steps: warm up over 8 steps
        scheduler: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, step / 8)
        )
    else:  # planned in passes: halve once per pass
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    lrs = []
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_step:
                scheduler.step()
        if not per_step:
            scheduler.step()
    return lrs


def test_a_per_step_warmup_stepped_per_epoch_is_stepped_per_optimizer_step() -> None:
    intended = lrs_of_a_script("warmup", per_step=True)
    with fixes_on_script({}):
        broken = lrs_of_a_script("warmup", per_step=False)
    with fixes_on_script({"scheduler_cadence": {"every": "step"}}):
        cured = lrs_of_a_script("warmup", per_step=False)
    assert broken[:4] == [0.0] * 4 and broken[4] == pytest.approx(1 / 8)  # the bug: one warmup step a pass
    assert cured == pytest.approx(intended)
    assert cured[:9] == pytest.approx([0.0, 1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1.0])


def test_a_per_pass_schedule_stepped_per_batch_is_stepped_once_per_pass() -> None:
    intended = lrs_of_a_script("halve", per_step=False)
    with fixes_on_script({"scheduler_cadence": {"every": "pass"}}):
        cured = lrs_of_a_script("halve", per_step=True)
    assert intended == [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    assert cured == pytest.approx(intended)


def test_it_declares_the_kinds_whose_cause_names_it() -> None:
    from harness.plugins.fixes.scheduler_cadence import SchedulerCadence

    assert SchedulerCadence.acts_on_scripts and set(SchedulerCadence.addresses) == {"lr_zero", "schedule_mismatch"}

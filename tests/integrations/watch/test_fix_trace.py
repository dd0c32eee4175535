"""A fix acting on a script is counted in the run's trace: an arm measures its fix only when it acted."""

from __future__ import annotations

import torch

from harness.integrations.watch.interventions import install_fixes
from harness.integrations.watch.patches import Patches


def test_only_the_script_methods_a_fix_overrides_count_and_only_when_called() -> None:
    trace: dict[str, dict[str, int]] = {}
    patches = Patches()
    try:
        install_fixes({"grad_clip": {"max_norm": 1.0}, "lr_scale": {"factor": 0.5}}, patches, trace)
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
        assert optimizer.param_groups[0]["lr"] == 0.1  # lr_scale acted when the optimizer was built
        for _ in range(3):
            optimizer.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            optimizer.step()
    finally:
        patches.undo()
    assert trace["script_optimizer"] == {"lr_scale": 1}
    assert trace["script_before_step"] == {"grad_clip": 3}
    assert "script_before_backward" not in trace  # neither overrides it: calling a no-op is not acting


def test_without_fixes_nothing_is_counted() -> None:
    trace: dict[str, dict[str, int]] = {}
    patches = Patches()
    try:
        assert install_fixes({}, patches, trace) == []
    finally:
        patches.undo()
    assert trace == {}

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


def test_watch_tells_each_finding_its_likely_cause_and_the_whole_diagnosis_with_explain() -> None:
    """The doctor's diagnosis of a watched run, read from its record alone (the parent is torch-free)."""
    import io

    from rich.console import Console

    from harness.integrations.watch.terminal import print_watch_report

    finding = {"kind": "loss_explosion", "epoch": 1, "step": 2, "plugin": "loss_explosion", "message": "step 2 loss"}
    oscillation = {"kind": "loss_oscillation", "epoch": 1, "step": 9, "plugin": "loss_trend", "message": "climbed"}
    record = {"findings": [finding, oscillation], "history": [{"epoch": 1, "loss": 9.0}], "steps": 30}
    record["lr_per_step"] = [3.0] * 30
    out = io.StringIO()
    print_watch_report(Console(file=out, width=200), {"runs": [record]}, 0)
    text = out.getvalue()
    assert "likely: learning rate too high; cure:" in text
    assert "likely: learning rate too high; (cure as above)" in text  # told once
    assert "diagnosis" not in text
    out = io.StringIO()
    print_watch_report(Console(file=out, width=200), {"runs": [record]}, 0, explain=True)
    assert "diagnosis (causes ranked by what the run shows)" in out.getvalue()


def test_the_watch_parent_reports_without_importing_torch() -> None:
    """``harness watch`` of a program that never imports torch pays no torch import (3.7 s -> 0.7 s)."""
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from rich.console import Console\n"
        "from harness.cli.watch import suite_report\n"
        "from harness.integrations.watch.terminal import print_watch_report\n"
        "from harness.core.run_record import new_record\n"
        "record = new_record('script', 0, plugins={}, train={})\n"
        "record['findings'] = [{'kind': 'nan', 'epoch': 1, 'plugin': 'non_finite', 'message': 'nan'}]\n"
        "report = suite_report([record], ['python', 'x.py'], None)\n"
        "print_watch_report(Console(file=io.StringIO()), report, 0, explain=True)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr

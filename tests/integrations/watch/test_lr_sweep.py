"""The LR range test on a script scenario: the watcher sweeps the LR of the running program from
outside (harness/integrations/watch/lr_sweep.py), whatever its own scheduler does, keeping its
parameter groups' ratios, and ends it at the stop rule (harness/experiments/lr_range_script.py)."""

from __future__ import annotations

import json
import math
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.execution.script_run import launch
from harness.experiments.lr_range import lr_range_test, lr_schedule, smooth
from harness.integrations.watch.lr_sweep import ENDED_FIRST
from harness.scenario import load_scenario

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "scripts"

#: a tiny MLP regression, SGD over two parameter groups (LRs 0.1 and 0.01), a StepLR halving the LR every
#: batch (left alone it would train at ~0 within 50 steps); each step's LRs logged to lrs.txt
TRAIN = """
import sys
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
epochs, batches = int(sys.argv[1]), 10
X = torch.randn(batches * 32, 8)
y = X[:, :1] - 2 * X[:, 1:2] + 0.1 * torch.randn(batches * 32, 1)
model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
optimizer = torch.optim.SGD(
    [{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters(), "lr": 0.01}], momentum=0.9
)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
log = open("lrs.txt", "w")
optimizer.register_step_post_hook(
    lambda opt, args, kwargs: (log.write(" ".join(str(g["lr"]) for g in opt.param_groups) + "\\n"), log.flush())
)
for epoch in range(epochs):
    for i in range(batches):
        xb, yb = X[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
    print(f"epoch {epoch + 1} loss {loss.item():.4f}")
print("TRAINING DONE")
open("done.txt", "w").write("the script trained on after the sweep")
"""


def script_scenario(directory: Path, epochs: int) -> Any:
    (directory / "train.py").write_text(textwrap.dedent(TRAIN))
    scenario = {"name": "sweep", "workload": {"script": "train.py", "args": [str(epochs)]}, "variants": {"v": {}}}
    (directory / "s.yaml").write_text(yaml.safe_dump(scenario))
    return load_scenario(directory / "s.yaml")


def used_lrs(directory: Path) -> list[list[float]]:
    """The LRs of each parameter group at each optimizer step the script took."""
    return [[float(v) for v in line.split()] for line in (directory / "lrs.txt").read_text().splitlines()]


def test_the_sweep_sets_each_steps_lr_over_the_scripts_scheduler_and_ends_the_program(tmp_path: Path) -> None:
    test = lr_range_test(script_scenario(tmp_path, epochs=40), "v", 0)  # 400 steps: more than the sweep
    assert test.error is None and test.trace == {}
    assert test.current_lr == pytest.approx(0.1)  # the script's own LR (its first group's)
    planned = lr_schedule(1e-7, 10.0, 200)
    assert test.lrs == pytest.approx(planned[: len(test.lrs)])  # one LR per step, rising exponentially
    used = used_lrs(tmp_path)
    assert [g[0] for g in used] == pytest.approx(planned[: len(used)])  # not the StepLR's halved LR
    assert all(g[1] / g[0] == pytest.approx(0.1) for g in used)  # the groups' ratio kept
    assert test.stopped.startswith("smoothed loss above 4x its minimum")
    assert len(used) == len(test.lrs) - 1 < 400  # ended before the step that broke the rule
    assert not (tmp_path / "done.txt").exists()  # the script did not train on
    assert test.suggested_lr is not None and 1e-7 < test.suggested_lr < 10.0 and math.isfinite(test.suggested_lr)
    assert test.suggested_lr == pytest.approx(test.min_loss_lr / 10)
    assert test.factor == pytest.approx(test.suggested_lr / 0.1, rel=1e-2)


def test_the_sweep_file_and_the_programs_output_are_left_when_it_ends_the_program(tmp_path: Path) -> None:
    """Run through script_run.launch directly: what the program printed before the sweep ended it
    is flushed, the watcher's record is written, and the sweep's file holds raw and smoothed losses."""
    program = script_scenario(tmp_path, epochs=40).variants["v"].script
    run_dir = tmp_path / "run"
    (run_dir / "watch").mkdir(parents=True)
    out = run_dir / "sweep.json"
    config = {"lr_sweep": {"start": 1e-5, "end": 10.0, "steps": 100, "out": str(out)}}
    assert launch(program, 0, run_dir, config=config, timeout=120) == 0
    sweep = json.loads(out.read_text())
    assert sweep["current_lr"] == pytest.approx(0.1) and sweep["planned"] == 100
    assert sweep["lrs"] == pytest.approx(lr_schedule(1e-5, 10.0, 100)[: len(sweep["lrs"])])
    assert sweep["losses"] == pytest.approx(smooth(sweep["raw"]))
    output = (run_dir / "stdout.txt").read_text()
    assert "epoch 1 loss" in output and "TRAINING DONE" not in output  # flushed, then ended
    assert list((run_dir / "watch").glob("run-*.json"))  # the watcher's record, written before os._exit


def test_a_script_that_ends_before_the_sweep_still_gives_a_range_test(tmp_path: Path) -> None:
    test = lr_range_test(script_scenario(tmp_path, epochs=3), "v", 0)  # 30 steps of the sweep's 200
    assert test.error is None and len(test.lrs) == 30 and ENDED_FIRST in test.stopped
    assert (tmp_path / "done.txt").exists() and test.current_lr == pytest.approx(0.1)


def test_a_program_that_fails_is_an_error_naming_why(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import torch\nraise SystemExit('no data here')\n")
    scenario = {"name": "sweep", "workload": {"script": "train.py"}, "variants": {"v": {}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    test = lr_range_test(load_scenario(tmp_path / "s.yaml"), "v", 0)
    assert test.error is not None and "exited with code 1: no data here" in test.error
    assert test.lrs == [] and test.suggested_lr is None


@pytest.mark.slow  # sklearn's digits and 200 steps of a script: ~10 s
def test_on_a_script_with_a_learning_rate_1000x_too_high_the_suggestion_is_far_below_it(tmp_path: Path) -> None:
    shutil.copy(SCRIPTS / "classifier_lr_too_high.py", tmp_path / "train.py")  # AdamW at lr 3.0, warm-up from 0
    scenario = {"name": "lr", "workload": {"script": "train.py"}, "variants": {"broken": {}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    test = lr_range_test(load_scenario(tmp_path / "s.yaml"), "broken", 0)
    assert test.error is None and test.current_lr == pytest.approx(3.0)  # initial_lr: the warm-up starts at 0
    assert test.suggested_lr is not None and test.suggested_lr < 3.0 / 100
    assert test.factor is not None and test.factor < 0.01

"""A training script as a scenario's workload: the loader's checks (before any run), the variants'
programs, printed metrics, patches and the run's seed inside the script (docs/replay-script.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.execution.script_run import add_printed_metrics, apply_patch, printed_metrics
from harness.scenario import ScenarioError, load_scenario


def scenario(tmp_path: Path, **changes: Any) -> Path:
    (tmp_path / "train.py").write_text("print('epoch 1 val_acc 0.5')\n")
    (tmp_path / "other.py").write_text("print('other')\n")
    data: dict[str, Any] = {
        "name": "s",
        "workload": {"script": "train.py", "args": ["--epochs", "2"], "metrics": {"val_acc": r"val_acc ([\d.]+)"}},
        "variants": {
            "broken": {"expect": ["final.val_acc >= 0.9", "exit == 0"]},
            "fixed": {"script": "other.py", "extra_args": ["--lr", "0.1"], "env": {"A": "1"}},
            "replaced": {"args": ["--epochs", "3"], "plugins": {"mode_collapse": False}},
        },
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_each_variant_runs_its_own_program(tmp_path: Path) -> None:
    loaded = load_scenario(scenario(tmp_path))
    assert loaded.workload == "script"
    assert loaded.metrics == ("val_acc", "val_loss")
    assert loaded.key_metrics[0] == "val_acc"
    broken, fixed, replaced = (loaded.variants[v].script for v in ("broken", "fixed", "replaced"))
    assert broken is not None and fixed is not None and replaced is not None
    assert broken.script == str(tmp_path / "train.py") and broken.args == ["--epochs", "2"]
    assert broken.cwd == str(tmp_path) and broken.seeding and broken.patch is None
    assert fixed.script == str(tmp_path / "other.py") and fixed.args == ["--epochs", "2", "--lr", "0.1"]
    assert fixed.env == {"A": "1"}
    assert replaced.args == ["--epochs", "3"] and replaced.plugins == {"mode_collapse": False}


def test_a_missing_script_or_patch_is_an_error_naming_it_before_any_run(tmp_path: Path) -> None:
    path = scenario(tmp_path, workload={"script": "gone.py"})
    data = yaml.safe_load(path.read_text())
    data["variants"]["fixed"]["patch"] = "fix.diff"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    text = str(exc.value)
    assert "workload.script" in text and f"no such file: {tmp_path / 'gone.py'}" in text
    assert "variants.fixed.patch" in text and "fix.diff" in text


@pytest.mark.slow  # the CLI's start-up
def test_harness_run_on_a_missing_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = scenario(tmp_path, workload={"script": "gone.py"})
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path), "--results-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "gone.py" in errors[0] and "workload.script" in errors[0]
    assert not (tmp_path / "out" / "runs").exists()  # no run started


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"train": {"epochs": 2}}, "train", "sets its own training"),
        ({"plugins": {"linear_warmup": True}}, "plugins.linear_warmup", "cannot apply to a running script"),
        ({"plugins": {"bug_no_zero_grad": True}}, "plugins.bug_no_zero_grad", "is a bug"),
        ({"workload": {"script": "train.py", "typo": 1}}, "workload.typo", "typo"),
        ({"workload": {"script": "train.py", "metrics": {"acc": "(a)(b)"}}}, "workload.metrics.acc", "2 groups"),
    ],
)
def test_what_a_script_scenario_refuses(tmp_path: Path, changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(scenario(tmp_path, **changes))
    assert field in str(exc.value) and words in str(exc.value)


def test_a_fix_the_watcher_can_apply_goes_to_the_program_and_another_is_one_line_naming_it(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["variants"]["fixed"]["plugins"] = {"lr_scale": {"factor": 0.01}, "grad_reset": True, "mode_collapse": False}
    path.write_text(yaml.safe_dump(data))
    fixed = load_scenario(path).variants["fixed"].script
    assert fixed is not None
    assert fixed.fixes == {"lr_scale": {"factor": 0.01}, "grad_reset": {}}
    assert fixed.plugins == {"mode_collapse": False}  # the watcher's monitors only
    data["variants"]["fixed"]["plugins"] = {"warmup_cosine": True}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    lines = [line for line in str(exc.value).splitlines() if "warmup_cosine" in line]
    assert len(lines) == 1 and "variants.fixed.plugins.warmup_cosine" in lines[0]
    assert "lr_scale" in lines[0] and "grad_clip" in lines[0]  # the fixes it can apply are named


def test_a_workload_class_refuses_a_scripts_variant_fields(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({"name": "s", "workload": {"name": "tiny"}, "variants": {"a": {"args": ["--x"], "patch": "p"}}})
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert "variants.a.args" in str(exc.value) and "variants.a.patch" in str(exc.value)


def test_printed_metrics_one_per_epoch_else_the_last_is_final() -> None:
    output = "epoch 1 val_acc 0.5\nepoch 2 val_acc 0.7\nRESULT acc=0.75\n"
    found = printed_metrics(output, {"val_acc": r"val_acc ([\d.]+)", "acc": r"acc=([\d.]+)", "none": "nope (\\d)"})
    assert found == {"val_acc": [0.5, 0.7], "acc": [0.75], "none": []}
    history: list[dict[str, Any]] = [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}]
    add_printed_metrics(history, found)
    assert history == [
        {"epoch": 1, "loss": 2.0, "val_acc": 0.5},
        {"epoch": 2, "loss": 1.0, "val_acc": 0.7, "acc": 0.75},
    ]
    unwatched: list[dict[str, Any]] = []  # a program the watcher saw no epoch of
    add_printed_metrics(unwatched, {"val_acc": [0.5, 0.7]})
    assert unwatched == [{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.7}]


def test_a_patch_applies_to_a_copy_and_a_bad_one_says_so(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("a = 1\nb = 2\n")
    (tmp_path / "fix.diff").write_text("--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n")
    copy = apply_patch(source, tmp_path / "fix.diff", tmp_path / "copy")
    assert (copy / "train.py").read_text() == "a = 1\nb = 3\n"
    assert (source / "train.py").read_text() == "a = 1\nb = 2\n"  # the user's file is untouched
    from harness.execution.script_run import ProgramError

    with pytest.raises(ProgramError, match="fix.diff does not apply"):
        apply_patch(copy, tmp_path / "fix.diff", tmp_path / "again")  # already applied


SEEDED = """
import random
import numpy as np
import torch

torch.manual_seed(0)
np.random.seed(0)
random.seed(0)
print(f"{torch.rand(1).item():.6f} {np.random.rand():.6f} {random.random():.6f}")
"""


def seeded_values(tmp_path: Path, seed: str | None) -> str:
    from harness.execution.watch_launch import ENV_SEED

    (tmp_path / "seeded.py").write_text(SEEDED)
    env = {k: v for k, v in os.environ.items() if k != ENV_SEED}
    code = "from harness.integrations.watch.seeding import seed_from_env; seed_from_env(); "
    code += "import runpy; runpy.run_path('seeded.py', run_name='__main__')"
    if seed is not None:
        env[ENV_SEED] = seed
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.mark.slow  # three interpreters importing torch and numpy
def test_the_runs_seed_offsets_the_seeds_a_script_hard_codes(tmp_path: Path) -> None:
    plain = seeded_values(tmp_path, None)
    assert seeded_values(tmp_path, "0") == plain  # seed 0 is the script as written
    one = seeded_values(tmp_path, "1")
    assert one == seeded_values(tmp_path, "1")  # one seed: the same numbers twice
    assert all(a != b for a, b in zip(one.split(), plain.split(), strict=True))  # torch, numpy, random all moved


def test_a_program_that_exits_0_unwatched_is_an_error_not_a_cure(tmp_path: Path) -> None:
    from harness.execution.records import RunKey, base_record
    from harness.execution.script_run import NOT_WATCHED, fill_record

    loaded = load_scenario(scenario(tmp_path))
    program = loaded.variants["broken"].script
    assert program is not None
    (tmp_path / "stdout.txt").write_text("epoch 1 val_acc 0.95\n")
    (tmp_path / "stderr.txt").write_text("")
    record = base_record(loaded, RunKey("broken", 0))
    fill_record(record, [], 0, program, tmp_path)
    assert record["status"] == "error" and record["error"]["message"] == NOT_WATCHED
    assert record["history"] == [{"epoch": 1, "val_acc": 0.95}] and record["exit"] == 0


def test_an_arm_derived_from_a_script_variant_carries_its_own_fixes_and_refuses_others(tmp_path: Path) -> None:
    """An experiment's arm (doctor, ablate) on a script: the watcher applies the arm's fixes, not its
    source's (before, every arm ran the program as its source did)."""
    loaded = load_scenario(scenario(tmp_path))
    arm = loaded.derive("broken", "arm", {"lr_scale": {"factor": 0.1}}, description="broken + lr_scale")
    assert arm.script is not None and arm.script.fixes == {"lr_scale": {"factor": 0.1}}
    assert loaded.variants["broken"].script.fixes == {}  # the source is untouched
    with pytest.raises(ValueError, match="warmup_cosine cannot act on a running script"):
        loaded.derive("broken", "arm2", {"warmup_cosine": True}, description="broken + warmup_cosine")

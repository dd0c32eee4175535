"""`harness watch --save-scenario`: a watched run becomes a scenario that replays it (broken: a snapshot
of the program as it ran; fixed: the working tree), and a watch report in the script's terms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .test_command import script

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "scripts"


def harness(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_the_saved_scenario_pins_the_program_as_it_ran_and_the_report_reads_in_its_terms(tmp_path: Path) -> None:
    script(tmp_path, zero=False)  # stale gradients: no zero_grad
    watched = harness(
        "watch", "--save-scenario", "keep/incident.yaml", "--html", "r.html", "--", "python", "train.py", cwd=tmp_path
    )
    assert watched.returncode == 0, watched.stderr
    saved = tmp_path / "keep" / "incident.yaml"
    text = saved.read_text()
    assert "harness watch --save-scenario" in text and "# " in text  # commented for a person
    data = yaml.safe_load(text)
    assert data["workload"] == {"script": "../train.py", "args": []}
    broken, fixed = data["variants"]["broken"], data["variants"]["fixed"]
    assert broken["script"] == "incident.snapshot/train.py"
    assert (tmp_path / "keep" / "incident.snapshot" / "train.py").read_text() == (tmp_path / "train.py").read_text()
    assert "finding stale_gradients" in broken["expect"] and "exit == 0" in broken["expect"]
    assert "no finding stale_gradients" in fixed["expect"] and "exit == 0" in fixed["expect"]
    assert "script" not in fixed  # the working tree
    page = (tmp_path / "r.html").read_text()
    assert "FAILED" not in page and "not cured" not in page and "3 findings" in page  # nothing was expected
    assert "<td>?</td>" not in page  # watch's own monitors have their kind
    assert "python train.py · exit 0" in page  # the command line and its exit code


def test_a_command_it_cannot_replay_is_refused_before_it_runs(tmp_path: Path) -> None:
    done = harness("watch", "--save-scenario", "s.yaml", "--", "python", "-c", "print(1)", cwd=tmp_path)
    assert done.returncode == 2 and "--save-scenario replays" in done.stderr
    assert not (tmp_path / "s.yaml").exists()


@pytest.mark.slow  # one watched run, then 10 script runs of 12 epochs
def test_a_bugged_twin_saved_then_fixed_in_the_working_tree_is_reproduced_and_cured_on_5_seeds(tmp_path: Path) -> None:
    shutil.copy(SCRIPTS / "classifier_no_zero_grad.py", tmp_path / "train.py")
    watched = harness("watch", "--save-scenario", "incident.yaml", "--", "python", "train.py", cwd=tmp_path)
    assert watched.returncode == 0, watched.stderr
    shutil.copy(SCRIPTS / "classifier.py", tmp_path / "train.py")  # the user fixes the line
    done = harness("run", "incident.yaml", "-j", "2", "--json", "out.json", cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["variants"]["broken"]["passed_runs"] == 5 and report["variants"]["fixed"]["passed_runs"] == 5
    assert "harness doctor" not in done.stdout and "harness ablate" not in done.stdout  # not for scripts yet
    assert "(no fixes)" not in done.stdout  # a script variant changes its program, not fixes
    assert [line for line in done.stdout.splitlines() if line.startswith("command  python")]  # its command line

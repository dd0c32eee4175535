"""A script's incident replayed end to end: examples/script-incident/ (a real training script, its
one-line fix as a patch) run by `harness run` over seeds and by `pytest incident.yaml`; a program
that hangs is stopped at --timeout, one that fails is an error naming its exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "script-incident"
BUG_LINE = "train.py:32"  # `return torch.softmax(self.body(x), dim=1)`


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "incident", ignore=shutil.ignore_patterns(".harness", "__pycache__"))
    return tmp_path / "incident"


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def harness_run(directory: Path, scenario: str, *flags: str, name: str) -> dict[str, Any]:
    done = run(
        "-m", "harness.cli", "run", scenario, "--results-dir", name, "--json", f"{name}.json", *flags, cwd=directory
    )
    report: dict[str, Any] = json.loads((directory / f"{name}.json").read_text())
    report["exit"] = done.returncode
    return report


def final(run: dict[str, Any], metric: str) -> Any:
    return run["history"][-1].get(metric) if run["history"] else None


@pytest.mark.slow  # 12 script runs
def test_seeds_with_two_jobs_give_the_verdicts_and_numbers_of_runs_one_by_one(incident: Path) -> None:
    together = harness_run(incident, "incident.yaml", "--seeds", "3", "-j", "2", name="together")
    assert together["exit"] == 0 and together["passed"]
    runs = {(r["variant"], r["seed"]): r for r in together["runs"]}
    assert sorted(runs) == [(v, s) for v in ("broken", "fixed") for s in (0, 1, 2)]
    for seed in (0, 1, 2):
        broken, fixed = runs["broken", seed], runs["fixed", seed]
        assert broken["exit"] == 0 and fixed["exit"] == 0
        found = [f for f in broken["findings"] if f["kind"] == "probability_outputs"]
        assert found and found[0]["where"] == BUG_LINE  # the finding points at the user's line
        assert not [f for f in fixed["findings"] if f["kind"] == "probability_outputs"]  # cured
        assert final(fixed, "val_acc") >= 0.9 > final(broken, "val_acc")  # the script's own printed metric
        assert len([h for h in fixed["history"] if "val_acc" in h]) == 4  # one printed value per epoch
    assert len({final(runs["fixed", s], "loss") for s in (0, 1, 2)}) == 3  # the seeds differ
    for seed in (0, 1, 2):
        alone = harness_run(incident, "incident.yaml", "--seed", str(seed), name=f"seed{seed}")
        assert alone["passed"] == together["passed"]
        for run_alone in alone["runs"]:
            run_together = runs[run_alone["variant"], seed]
            assert [e["passed"] for e in run_alone["expectations"]] == [
                e["passed"] for e in run_together["expectations"]
            ]
            assert final(run_alone, "val_acc") == final(run_together, "val_acc")  # same numbers, -j or not
            assert final(run_alone, "loss") == final(run_together, "loss")
        assert (
            (incident / f"seed{seed}" / "runs" / f"fixed-seed{seed}" / "stdout.txt").read_text().startswith("epoch 1")
        )


@pytest.mark.slow  # three script runs
def test_pytest_runs_the_incident_and_a_reverted_fix_fails_naming_finding_line_and_metric(incident: Path) -> None:
    flags = ("-m", "pytest", "incident.yaml", "-p", "no:cacheprovider", "--harness-seeds", "0")
    passing = run(*flags, cwd=incident)
    assert passing.returncode == 0, passing.stdout[-3000:]
    assert "2 passed" in passing.stdout
    scenario = yaml.safe_load((incident / "incident.yaml").read_text())
    del scenario["variants"]["fixed"]["patch"]  # the fix reverted
    (incident / "incident.yaml").write_text(yaml.safe_dump(scenario))
    failing = run(*flags, "-k", "fixed", cwd=incident)
    assert failing.returncode == 1
    text = failing.stdout
    assert "no finding probability_outputs" in text and BUG_LINE in text  # the finding and its line
    assert "final.val_acc >= 0.9" in text  # the metric that regressed


HANGS = """
import os, pathlib, time
pathlib.Path("pid").write_text(str(os.getpid()))
print("started", flush=True)
time.sleep(300)
"""
FAILS = """
import sys
print("boom: no data", file=sys.stderr)
sys.exit(3)
"""


def script_scenario(directory: Path, variants: dict[str, Any]) -> str:
    (directory / "hangs.py").write_text(HANGS)
    (directory / "fails.py").write_text(FAILS)
    data = {"name": "process", "workload": {"script": "fails.py"}, "variants": variants}
    (directory / "process.yaml").write_text(yaml.safe_dump(data))
    return "process.yaml"


@pytest.mark.slow  # a script run waits for its timeout
def test_a_program_that_hangs_is_killed_at_timeout_and_recorded_as_timeout(tmp_path: Path) -> None:
    scenario = script_scenario(tmp_path, {"hangs": {"script": "hangs.py", "expect": ["exit == 0"]}})
    report = harness_run(tmp_path, scenario, "--timeout", "10", name="out")
    assert report["exit"] == 1
    (only,) = report["runs"]
    assert only["status"] == "timeout" and "timeout of 10 s" in only["error"]["message"]
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.slow  # two script runs
def test_an_exit_code_is_an_error_unless_a_line_expects_it(tmp_path: Path) -> None:
    scenario = script_scenario(tmp_path, {"plain": {}, "expected": {"expect": ["exit == 3"]}})
    report = harness_run(tmp_path, scenario, name="out")
    assert report["exit"] == 1
    runs = {r["variant"]: r for r in report["runs"]}
    assert runs["plain"]["status"] == "error" and runs["plain"]["exit"] == 3
    assert "exited with code 3: boom: no data" in runs["plain"]["error"]["message"]
    assert runs["expected"]["status"] == "ok" and runs["expected"]["expectations"][0]["passed"] is True
    assert (tmp_path / "out" / "runs" / "plain-seed0" / "stderr.txt").read_text().strip() == "boom: no data"

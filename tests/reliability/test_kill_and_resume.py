"""Nothing finished is lost: SIGKILL a suite mid-way, ``--resume`` it, and compare.

The suite runs in a subprocess (``harness run -j 1``), each (variant, seed) in a worker
process. The test kills the suite's process with SIGKILL once at least one result is
written and the next run is in flight, then proves:

- the workers died with it (no orphan trains on and writes a result behind the resume);
- ``--resume`` repeated no completed run: each finished run's result file is the same
  file (inode, mtime, bytes), and a counter plugin saw it start exactly once;
- none was lost: every (variant, seed) has its result, the killed one re-run once;
- the final report equals an uninterrupted run's (every field but wall-clock seconds).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VARIANTS = {
    "plain": {"expect": ["status == ok", "epochs_run == 2"]},
    "weighted": {"plugins": {"class_weights": True}, "expect": ["status == ok"]},
}
SEEDS = (0, 1)
TOTAL = len(VARIANTS) * len(SEEDS)


def harness_run(scenario: Path, results: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", str(scenario), "-q", "--results-dir", str(results), *extra]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def snapshot(results: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for path in sorted((results / "results").glob("*.json")):
        st = path.stat()
        out[path.name] = (st.st_ino, st.st_mtime_ns, path.read_bytes())
    return out


def without_seconds(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in run.items() if k != "seconds"} for run in report["runs"]]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_sigkill_then_resume_loses_and_repeats_nothing(
    write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, str]
) -> None:
    scenario = write_scenario(VARIANTS, seeds=SEEDS, plugins={"run_counter": True})
    killed_dir, reference_dir = tmp_path / "killed", tmp_path / "reference"
    counter = tmp_path / "started-killed.txt"
    env = harness_env | {"HARNESS_TEST_RUN_COUNTER": str(counter)}

    # ---- start the suite and kill it once one run is done and the next is in flight
    proc = subprocess.Popen(
        harness_run(scenario, killed_dir, "-j", "1"),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 240
    try:
        while True:
            assert proc.poll() is None, "the suite finished before it could be killed"
            assert time.monotonic() < deadline, "no result appeared in time"
            done = len(list((killed_dir / "results").glob("*.json"))) if (killed_dir / "results").exists() else 0
            started = len(counter.read_text().split()) if counter.exists() else 0
            workers = [pid for pid in children_of(proc.pid) if alive(pid)]
            if 1 <= done < TOTAL and started > done and workers:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    # ---- the workers die with the suite and write nothing afterwards
    limit = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < limit:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "a worker outlived the killed suite"
    after_kill = snapshot(killed_dir)
    time.sleep(2.0)
    assert snapshot(killed_dir) == after_kill, "something wrote a result after the suite was killed"
    finished = {name.removesuffix(".json") for name in after_kill}
    started_before = Counter(counter.read_text().split())
    in_flight = set(started_before) - finished
    assert 1 <= len(finished) < TOTAL and len(in_flight) == 1, (finished, started_before)

    # ---- resume: only what is missing runs
    resumed = subprocess.run(
        harness_run(scenario, killed_dir, "-j", "1", "--resume", "--json", str(tmp_path / "resumed.json")),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = snapshot(killed_dir)
    assert len(final) == TOTAL  # none lost
    for name, before in after_kill.items():
        assert final[name] == before, f"{name} was rewritten by --resume"  # none repeated (same inode, mtime, bytes)
    starts = Counter(counter.read_text().split())
    assert all(starts[key] == 1 for key in finished), starts  # finished before the kill: never started again
    assert all(starts[key] == 2 for key in in_flight), starts  # killed mid-run: run again, once
    assert sum(starts.values()) == TOTAL + len(in_flight)

    # ---- the same report as an uninterrupted run (here with 2 workers at a time)
    reference = subprocess.run(
        harness_run(scenario, reference_dir, "-j", "2", "--json", str(tmp_path / "reference.json")),
        env=harness_env | {"HARNESS_TEST_RUN_COUNTER": str(tmp_path / "started-reference.txt")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert reference.returncode == 0, reference.stdout + reference.stderr
    resumed_report = json.loads((tmp_path / "resumed.json").read_text())
    reference_report = json.loads((tmp_path / "reference.json").read_text())
    assert [(r["variant"], r["seed"]) for r in resumed_report["runs"]] == [(v, s) for v in VARIANTS for s in SEEDS]
    assert without_seconds(resumed_report) == without_seconds(reference_report)
    assert resumed_report["passed"] is reference_report["passed"] is True
    summary = {
        "finished_before_kill": sorted(finished),
        "killed_in_flight": sorted(in_flight),
        "re_run": sorted(in_flight),
    }
    print(f"\nkill-and-resume: {json.dumps(summary)}")
    if os.environ.get("HARNESS_KILL_SUMMARY"):
        Path(os.environ["HARNESS_KILL_SUMMARY"]).write_text(json.dumps(summary), encoding="utf-8")

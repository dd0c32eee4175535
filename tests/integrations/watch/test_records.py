"""A watched program's record is kept as it runs, and a program that could not be watched says so.

A program killed on the way (``os._exit``, SIGKILL, an OOM kill) keeps what the watcher saw up to its
last save (training start, each epoch's end); ``python -I``/``-E``/``-S`` and an interpreter that
cannot import harness read "not watched", never "no training observed", and ``--fail-on`` fails on
them; a report path that cannot be written stops ``harness watch`` before the program runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=env
    )


TRAIN = """
import torch, torch.nn as nn
torch.manual_seed(0)
torch.set_num_threads(1)
X = torch.randn(64, 6)
y = (X[:, 0] > 0).long()
model = nn.Linear(6, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(12):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
"""

KILLED = """
import os, signal, sys
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
torch.set_num_threads(1)
X = torch.randn(256, 8)
y = (X[:, 0] > 0).long()
loader = DataLoader(TensorDataset(X, y), batch_size=32)
model = nn.Linear(8, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(4):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()  # no zero_grad(): stale_gradients from epoch 1
        optimizer.step()
    print(epoch, flush=True)
    if epoch == 2:
        {end}
"""


@pytest.mark.parametrize("end", ["os._exit(0)", "os.kill(os.getpid(), signal.SIGKILL)"])
def test_a_killed_program_keeps_what_was_seen_and_fail_on_fails_on_it(tmp_path: Path, end: str) -> None:
    (tmp_path / "train.py").write_text(KILLED.format(end=end))
    watched = harness("watch", "--json", "out.json", "--fail-on", "any", "--", "python", "train.py", cwd=tmp_path)
    assert watched.returncode == 1, watched.stderr  # a finding kept from epoch 1, not "no training observed"
    (run,) = json.loads((tmp_path / "out.json").read_text())["runs"]
    assert run["status"] == "running" and len(run["history"]) == 2 and run["steps"] == 16  # epoch 3 never closed
    assert "stale_gradients" in {f["kind"] for f in run["findings"]}
    assert "ended before the watcher could finish its record" in watched.stderr
    assert "no training observed" not in watched.stderr


@pytest.mark.parametrize("option", ["-I", "-E"])
def test_python_isolated_is_not_watched_and_says_so(tmp_path: Path, option: str) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    plain = harness("watch", "--json", "out.json", "--", "python", option, "train.py", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr  # the program's own exit code
    said = [line for line in plain.stderr.splitlines() if line.startswith("harness watch:")]
    assert len(said) == 1 and f"python {option}" in said[0] and "unwatched" in said[0]
    assert "not watched" in plain.stderr and "no training observed" not in plain.stderr
    (run,) = json.loads((tmp_path / "out.json").read_text())["runs"]
    assert run["error"]["type"] == "not_watched"
    for fail_on in ("any", "nan"):
        failing = harness("watch", "--fail-on", fail_on, "--", "python", option, "train.py", cwd=tmp_path)
        assert failing.returncode == 1, failing.stderr


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["python", "-I", "t.py"], "-I"),
        (["/venv/bin/python3", "-Wignore", "-uE", "t.py"], "-E"),
        (["python", "-X", "dev", "-S", "t.py"], "-S"),
        (["python", "-W", "I", "t.py"], None),  # -W's value
        (["python", "t.py", "-I"], None),  # the script's argument
        (["python", "-c", "pass", "-E"], None),
        (["python", "-m", "pkg", "-I"], None),
        (["torchrun", "-I"], None),
    ],
)
def test_the_options_that_keep_the_watcher_out_are_recognised(argv: list[str], option: str | None) -> None:
    from harness.execution.watch_launch import skips_bootstrap

    assert skips_bootstrap(argv) == option


def test_an_interpreter_that_cannot_import_harness_is_not_watched(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    (tmp_path / "hello.py").write_text("print('hello')\n")
    watched = harness("watch", "--fail-on", "any", "--", str(python), "hello.py", cwd=tmp_path)
    assert watched.stdout == "hello\n" and watched.returncode == 1
    assert "not watched" in watched.stderr and "not installed" in watched.stderr


def test_no_torch_at_all_is_no_training_observed_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("print('hello')\n")
    watched = harness("watch", "--fail-on", "any", "--", "python", "hello.py", cwd=tmp_path)
    assert watched.returncode == 0 and "no training observed" in watched.stderr


def test_an_unwritable_report_path_stops_before_the_program_runs(tmp_path: Path) -> None:
    (tmp_path / "marker.py").write_text("open('ran', 'w').close()\n")
    (tmp_path / "afile").write_text("")
    for flags in (["--json", "afile/out.json"], ["--html", "afile/sub/out.html"], ["--junit", "."]):
        watched = harness("watch", *flags, "--", "python", "marker.py", cwd=tmp_path)
        assert watched.returncode == 2, (flags, watched.stderr)  # click refuses a directory itself
        assert "cannot write" in watched.stderr or "is a directory" in watched.stderr, (flags, watched.stderr)
        assert not (tmp_path / "ran").exists()
    assert harness("watch", "--json", "new/dir/out.json", "--", "python", "marker.py", cwd=tmp_path).returncode == 0
    assert (tmp_path / "ran").exists() and (tmp_path / "new" / "dir" / "out.json").exists()

"""`where` at the cause: the two scripts of the issue, watched, each finding at the line that explains it.

``where/steplr_per_batch.py``: a ``StepLR(step_size=10)`` stepped once per batch (LR 1e-22 by epoch 3)
was ``weights_not_updating`` at the ``torch.optim.Adam(...)`` line with no ``lr_zero``; now ``lr_zero``
(an LR under 1e-6 of its start) and ``weights_not_updating`` are at the ``scheduler.step()``.
``where/softmax_in_sequential.py``: ``nn.Softmax(dim=1)`` closing a ``Sequential`` was reported at
``return self.net(x)``; now at the ``nn.Softmax`` line. Paths are relative to where the program started,
even after it changed directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # two watched runs

HERE = Path(__file__).parent / "where"


def _watch(tmp_path: Path, name: str, *, chdir: bool = False) -> list[dict[str, object]]:
    shutil.copy(HERE / name, tmp_path / name)
    if chdir:  # the program moves elsewhere before it trains: paths stay relative to where it started
        source = (tmp_path / name).read_text().replace("torch.manual_seed(0)", "os.chdir('/')\ntorch.manual_seed(0)", 1)
        (tmp_path / name).write_text("import os\n" + source)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "watch", "--json", str(tmp_path / "out.json"), "--", "python", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    (run,) = json.loads((tmp_path / "out.json").read_text())["runs"]
    return list(run["findings"])


def _line(tmp_path: Path, name: str, text: str) -> str:
    lines = (tmp_path / name).read_text().splitlines()
    return f"{name}:{next(i for i, line in enumerate(lines, 1) if text in line)}"


def test_a_steplr_stepped_per_batch_is_lr_zero_at_the_scheduler_step(tmp_path: Path) -> None:
    name = "steplr_per_batch.py"
    findings = _watch(tmp_path, name)
    at = _line(tmp_path, name, "scheduler.step()  # BUG")
    lr_zero = [f for f in findings if f["kind"] == "lr_zero"]
    assert lr_zero and lr_zero[0]["epoch"] == 3 and all(f["where"] == at for f in lr_zero)
    stalled = [f for f in findings if f["kind"] == "weights_not_updating"]
    assert all(f["where"] == at for f in stalled)  # the schedule explains it, not the optimizer
    assert not [f for f in findings if f["where"] == _line(tmp_path, name, "torch.optim.Adam")]


def test_probabilities_from_an_nn_softmax_are_at_its_construction(tmp_path: Path) -> None:
    name = "softmax_in_sequential.py"
    findings = _watch(tmp_path, name, chdir=True)
    probabilities = [f for f in findings if f["kind"] == "probability_outputs"]
    at = _line(tmp_path, name, "nn.Softmax(dim=1),  # BUG")
    assert probabilities and all(f["where"] == at for f in probabilities), (at, [f["where"] for f in probabilities])

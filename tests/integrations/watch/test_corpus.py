"""The watch corpus (examples/scripts): every clean script runs under `harness watch` with no
finding, every one-line-bug twin gets its bug's finding at the line marked ``# BUG``, and each
bug really hurts (the final metric its script prints, against its clean twin's)."""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "scripts"
CORPUS = json.loads((SCRIPTS / "corpus.json").read_text())
CLEAN: list[str] = CORPUS["clean"]
DDP: str = CORPUS["ddp"]  # run with torchrun, two ranks
#: twin -> (its clean script, the finding kind its bug shows as, whether the finding points at the BUG line, hurts)
TWINS: dict[str, tuple[str, str, bool, bool]] = {
    twin: (t["clean"], t["kind"], t["located"], t["hurts"]) for twin, t in CORPUS["twins"].items()
}

pytestmark = pytest.mark.slow  # each script trains for a few seconds under the watcher


@cache
def watched(script: str, *launcher: str) -> dict[str, Any]:
    """Run ``harness watch --json`` on a corpus script (once per session): exit code, output, report."""
    out = Path(tempfile.mkdtemp(prefix="watch-corpus-")) / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "watch", "--json", str(out), "--", *(launcher or ("python",)), script],
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    report = json.loads(out.read_text())
    result = re.search(r"^RESULT (.*)$", proc.stdout, re.M)
    metrics = {k: float(v) for k, v in (item.split("=") for item in result.group(1).split())} if result else {}
    return {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "report": report, "metrics": metrics}


def findings(script: str) -> list[dict[str, Any]]:
    return [f for run in watched(script)["report"]["runs"] for f in run["findings"]]


def bug_line(script: str) -> int:
    lines = [i for i, line in enumerate((SCRIPTS / script).read_text().splitlines(), 1) if "# BUG" in line]
    assert len(lines) == 1, f"{script}: exactly one line must be marked # BUG"
    return lines[0]


@pytest.mark.parametrize("script", CLEAN)
def test_a_clean_script_has_no_finding(script: str) -> None:
    run = watched(script)
    assert run["code"] == 0, run["stderr"]
    assert run["metrics"], "the script printed no RESULT line"
    assert [r["status"] for r in run["report"]["runs"]] == ["ok"], "the watcher saw no training"
    assert findings(script) == [], "\n".join(f"{f['kind']}: {f['message']}" for f in findings(script))


@pytest.mark.parametrize("twin", TWINS)
def test_a_bugged_twin_gets_its_finding_at_the_bug_line(twin: str) -> None:
    _, kind, located, _ = TWINS[twin]
    found = [f for f in findings(twin) if f["kind"] == kind]
    assert found, f"no {kind} finding; found {sorted({f['kind'] for f in findings(twin)})}"
    if located:
        wheres = {f["where"] for f in found}
        assert wheres == {f"{twin}:{bug_line(twin)}"}, wheres
        assert all("# BUG" in f["source"] for f in found)


@pytest.mark.parametrize("twin", [t for t, (_, _, _, hurts) in TWINS.items() if hurts])
def test_the_bug_hurts(twin: str) -> None:
    clean, bugged = watched(TWINS[twin][0])["metrics"], watched(twin)["metrics"]
    assert clean and bugged
    worse_loss = math.isnan(bugged["val_loss"]) or bugged["val_loss"] > 1.2 * clean["val_loss"]
    worse_accuracy = bugged["val_acc"] < clean["val_acc"] - 0.01
    assert worse_loss or worse_accuracy, (clean, bugged)


def test_the_harmless_eval_mode_twin_really_did_not_hurt() -> None:
    """What docs/watch.md says about it: its val accuracy was not lower than the clean script's."""
    assert watched("classifier_eval_mode.py")["metrics"]["val_acc"] >= watched("classifier.py")["metrics"]["val_acc"]


def _code(script: str) -> list[str]:
    text = (SCRIPTS / script).read_text()
    body = text.split('"""', 2)[2]  # without the module docstring
    return [re.sub(r"\s*# BUG.*$", "", line) for line in body.splitlines()]


@pytest.mark.parametrize("twin", TWINS)
def test_a_twin_differs_from_its_clean_script_by_one_line(twin: str) -> None:
    diff = [
        d
        for d in difflib.unified_diff(_code(TWINS[twin][0]), _code(twin), lineterm="", n=0)
        if d[:1] in "+-" and not d.startswith(("+++", "---"))
    ]
    assert 1 <= len(diff) <= 2, diff  # one line changed, or one line moved


def test_every_corpus_script_is_in_the_table() -> None:
    assert sorted(p.name for p in SCRIPTS.glob("*.py")) == sorted([*CLEAN, *TWINS, DDP])


def test_ddp_with_two_ranks_is_one_run_per_rank_and_clean() -> None:
    run = watched(DDP, "torchrun", "--nproc-per-node", "2")
    assert run["code"] == 0, run["stderr"]
    assert "world_size=2" in run["stdout"]
    runs = run["report"]["runs"]
    assert [r["train"]["rank"] for r in runs] == [0, 1]
    assert all(r["status"] == "ok" and r["steps"] == 64 and len(r["history"]) == 4 for r in runs)
    assert findings(DDP) == []
    assert "rank 0:" in run["stderr"] and "rank 1:" in run["stderr"]

"""I/O faults are named and contained: a full disk, a permission denied, a results path that
is a file. Each run that hits one ends with status ``error`` and a one-line message naming
the path and the OS error (the traceback stays in the record when a record can be written,
never on the terminal); what was already written stays intact; the exit code is 1.

Every write site is covered: the result file (written by the worker; a worker that cannot
write it sends its record to the suite instead), the checkpoint (``plugins/fixes/checkpoint.py``),
the results directory (checked before any run), and the report files (``--json``,
``--junit``, ``--html``). Faults are injected with ``harness_fault_plugins.FailWrites`` (an
``OSError`` from ``open``/``write`` in that run's worker only) or ``failing_open`` in this
process; the last test fills a real 1 MiB tmpfs (in a private mount namespace via
``unshare``; skipped where that is not allowed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main

ENOSPC = "[Errno 28] No space left on device"
EACCES = "[Errno 13] Permission denied"


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, wrapper: list[str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(wrapper or []), sys.executable, "-m", "harness.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": "300"},
        cwd=cwd,
        timeout=300,
    )


def no_temporary_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------ result and checkpoint writes


@pytest.mark.slow
def test_full_disk_and_permission_denied_at_the_result_and_checkpoint_writes(
    write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, str]
) -> None:
    """One suite, one fault per run (each only in its own worker): the healthy run passes and
    is written, each faulty run is an `error` naming the path and the OS error, a result
    written before stays byte for byte, the checkpoint of epoch 1 survives a failed epoch-2
    save, no temporary file is left behind, no traceback reaches the terminal, exit code 1."""
    ckpt = {"checkpoint": {"format": "state_dict"}}
    path = write_scenario(
        {
            "healthy": {"expect": ["status == ok"]},
            "result_full": {"plugins": {"fail_writes": {"match": "/results/", "error": "ENOSPC"}}},
            "result_denied": {"plugins": {"fail_writes": {"match": "/results/", "error": "EACCES"}}},
            "ckpt_full": {"plugins": {**ckpt, "fail_writes": {"match": "checkpoint.pt", "from_epoch": 2}}},
            "ckpt_denied": {
                "plugins": {**ckpt, "fail_writes": {"match": "checkpoint.pt", "error": "EACCES", "from_epoch": 2}}
            },
        }
    )
    results = tmp_path / "out"
    earlier = results / "results" / "result_full-seed0.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"written": "by an earlier suite"}', encoding="utf-8")
    report_path = tmp_path / "report.json"
    proc = run_cli(
        ["run", str(path), "-q", "-j", "2", "--results-dir", str(results), "--json", str(report_path)],
        harness_env,
        tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "worker process died" not in output, output
    runs = {r["variant"]: r for r in json.loads(report_path.read_text())["runs"]}
    assert {v: r["status"] for v, r in runs.items()} == {
        "healthy": "ok",
        "result_full": "error",
        "result_denied": "error",
        "ckpt_full": "error",
        "ckpt_denied": "error",
    }

    # the result writes: the message names the result file and the OS error; the traceback is kept
    for variant, oserror in (("result_full", ENOSPC), ("result_denied", EACCES)):
        error = runs[variant]["error"]
        target = results / "results" / f"{variant}-seed0.json"
        assert error["message"] == f"cannot write the result {target}: {oserror}"
        assert error["path"] == str(target)
        assert "Traceback (most recent call last)" in error["traceback"] and oserror in error["traceback"]
        assert [h["epoch"] for h in runs[variant]["history"]] == [1, 2]  # what the run learnt is still reported
        assert error["message"] in " ".join(proc.stdout.split())  # one line on the terminal
    assert earlier.read_text(encoding="utf-8") == '{"written": "by an earlier suite"}'  # intact
    assert not (results / "results" / "result_denied-seed0.json").exists()

    # the checkpoint writes: the checkpoint plugin's error names the checkpoint and the OS error
    for variant, oserror in (("ckpt_full", ENOSPC), ("ckpt_denied", EACCES)):
        record = json.loads((results / "results" / f"{variant}-seed0.json").read_text())  # the record was written
        checkpoint = results / "runs" / f"{variant}-seed0" / "checkpoint.pt"
        assert record["status"] == "error" and record["error"]["plugin"] == "checkpoint"
        assert f"{oserror}: '{checkpoint}'" in record["error"]["message"]
        assert "Traceback (most recent call last)" in record["error"]["traceback"]
        assert [h["epoch"] for h in record["history"]] == [1, 2]
        import torch

        assert torch.load(checkpoint, weights_only=True)["epoch"] == 1  # epoch 1's checkpoint is intact

    assert json.loads((results / "results" / "healthy-seed0.json").read_text())["status"] == "ok"
    assert no_temporary_files(results)


# ------------------------------------------------------------------ the results directory


@pytest.mark.parametrize(
    ("in_the_way", "oserror"),
    [
        (
            "parent",
            "[Errno 20] Not a directory",
        ),  # --results-dir FILE/out (`--results-dir FILE` itself is a usage error, exit 2)
        ("out/results", "[Errno 17] File exists"),  # the results directory inside it
    ],
)
def test_a_results_path_that_is_a_file_fails_every_run_before_training(
    write_scenario: Callable[..., Path], tmp_path: Path, in_the_way: str, oserror: str
) -> None:
    path = write_scenario({"a": {}, "b": {}})
    blocker = tmp_path / in_the_way
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file in the way", encoding="utf-8")
    results = tmp_path / "parent" / "out" if in_the_way == "parent" else tmp_path / "out"
    report_path = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["run", str(path), "-q", "--results-dir", str(results), "--json", str(report_path)],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = f"cannot write the results directory {results / 'results'}: {oserror}"
    runs = json.loads(report_path.read_text())["runs"]
    assert [(r["variant"], r["status"], r["error"]["message"]) for r in runs] == [
        ("a", "error", message),
        ("b", "error", message),
    ]
    assert all(r["history"] == [] and r["seconds"] == 0.0 for r in runs)  # nothing trained
    assert " ".join(result.output.split()).count(message) == 2
    assert blocker.read_text(encoding="utf-8") == "a file in the way"


def test_a_result_path_taken_by_a_directory_fails_that_run_only(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_scenario({"a": {}, "b": {"expect": ["status == ok"]}})
    results = tmp_path / "out"
    (results / "results" / "a-seed0.json").mkdir(parents=True)
    report_path = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["run", str(path), "-q", "-j", "1", "--results-dir", str(results), "--json", str(report_path)],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    runs = {r["variant"]: r for r in json.loads(report_path.read_text())["runs"]}
    message = f"cannot write the result {results / 'results' / 'a-seed0.json'}: [Errno 21] Is a directory"
    assert (runs["a"]["status"], runs["a"]["error"]["message"]) == ("error", message)
    assert runs["b"]["status"] == "ok"
    assert json.loads((results / "results" / "b-seed0.json").read_text())["status"] == "ok"
    assert message in " ".join(result.output.split())
    assert no_temporary_files(results)


# ------------------------------------------------------------------ report files


@pytest.fixture()
def saved_report(write_scenario: Callable[..., Path], tmp_path: Path) -> Path:
    """A complete JSON report of one passing run (no training: a record built by hand)."""
    from harness.execution.records import RunKey, base_record, torch_version
    from harness.execution.runner import suite_report
    from harness.scenario import load_scenario
    from harness.scenario.expectations import evaluate_all

    scenario = load_scenario(write_scenario({"v": {"expect": ["status == ok"]}}))
    record = base_record(scenario, RunKey("v", 0))
    record.update(status="ok", history=[{"epoch": 1, "loss": 0.6, "f1": 0.5}], steps=3)
    record["expectations"] = evaluate_all(scenario.variants["v"].expectations, record, torch_version())
    path = tmp_path / "saved.json"
    path.write_text(json.dumps(suite_report(scenario, [record])), encoding="utf-8")
    return path


@pytest.mark.parametrize("flag", ["--json", "--junit", "--html"])
@pytest.mark.parametrize(
    ("fault", "oserror"), [("ENOSPC", ENOSPC), ("EACCES", EACCES), ("parent is a file", "[Errno 17] File exists")]
)
def test_a_report_that_cannot_be_written_is_named_and_the_others_are_written(
    saved_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, fault: str, oserror: str
) -> None:
    import builtins
    import io

    from harness_fault_plugins import failing_open

    out = tmp_path / "reports"
    out.mkdir()
    paths = {"--json": out / "r.json", "--junit": out / "r.xml", "--html": out / "r.html"}
    if fault == "parent is a file":
        (out / "taken").write_text("a file in the way", encoding="utf-8")
        paths[flag] = out / "taken" / paths[flag].name
    target = paths[flag]
    if fault != "parent is a file":
        target.write_text("the report of an earlier run", encoding="utf-8")
        fake = failing_open(io.open, target.name, fault)
        monkeypatch.setattr(builtins, "open", fake)
        monkeypatch.setattr(io, "open", fake)
    result = CliRunner().invoke(
        main, ["report", str(saved_report), *(a for f, p in paths.items() for a in (f, str(p)))]
    )
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"error: cannot write the {flag} report {target}: {oserror}"]
    assert "Traceback" not in result.output
    for other_flag, other in paths.items():
        if other_flag != flag:
            assert other.is_file() and other.stat().st_size > 0  # the other reports were written
    if fault != "parent is a file":
        assert target.read_text(encoding="utf-8") == "the report of an earlier run"  # intact
    assert no_temporary_files(out)


# ------------------------------------------------------------------ a real full disk


def _private_tmpfs_available() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=1m tmpfs /mnt 2>/dev/null || mount -t tmpfs -o size=1m tmpfs /tmp",
        ],
        check=False,
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _private_tmpfs_available(), reason="needs `unshare -rm` and mount (a private tmpfs)")
def test_a_really_full_disk(write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, Any]) -> None:
    """The results directory on a 1 MiB tmpfs that the second run fills: its checkpoint (a
    real `torch.save` on ENOSPC) and then its result cannot be written; the first run's result
    stays intact, the suite reports both and exits 1, with no traceback on the terminal."""
    results = tmp_path / "small"
    results.mkdir()
    saved = tmp_path / "saved"
    saved.mkdir()
    path = write_scenario(
        {
            "first": {"expect": ["status == ok"]},
            "filled": {"plugins": {"checkpoint": {"format": "state_dict"}, "fill_disk": {"directory": str(results)}}},
        }
    )
    report_path = tmp_path / "report.json"
    script = (
        'mount -t tmpfs -o size=1m tmpfs "$0" || exit 99; "$@"; rc=$?; '
        f'cp "$0/results/first-seed0.json" {saved}/; ls -a "$0/results" > {saved}/listing; exit $rc'
    )
    proc = run_cli(
        ["run", str(path), "-q", "-j", "1", "--results-dir", str(results), "--json", str(report_path)],
        harness_env,
        tmp_path,
        wrapper=["unshare", "-rm", "sh", "-c", script, str(results)],
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "worker process died" not in output, output
    runs = {r["variant"]: r for r in json.loads(report_path.read_text())["runs"]}
    assert runs["first"]["status"] == "ok"
    filled = runs["filled"]
    assert filled["status"] == "error"
    checkpoint = results / "runs" / "filled-seed0" / "checkpoint.pt"
    assert filled["error"]["message"].startswith(
        f"cannot write the result {results / 'results' / 'filled-seed0.json'}: {ENOSPC}; before that: plugin 'checkpoint' failed"
    )
    assert filled["error"]["message"].endswith(f"OSError: {ENOSPC}: '{checkpoint}'")
    assert filled["error"]["earlier"]["plugin"] == "checkpoint"
    assert "Traceback (most recent call last)" in filled["error"]["traceback"]
    # inside the tmpfs: the first run's result, intact; no result and no temporary file of the second
    assert json.loads((saved / "first-seed0.json").read_text()) == runs["first"]
    assert (saved / "listing").read_text().split() == [".", "..", "first-seed0.json"]

"""The results directory: one JSON file per finished run, ``results/<variant>-seed<S>.json``.

Each record is written atomically as soon as its run finishes (:func:`save_result`), so an
interrupted suite loses nothing finished, and ``--resume`` reuses every result whose
fingerprint still matches (:func:`reusable_result`). A write that fails is no crash: the
run's record says so (:func:`write_failed`).
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, cast

from harness.core.run_record import record_from_json, record_to_json
from harness.execution.atomic_io import os_error_text, write_atomic
from harness.execution.records import ErrorInfo, RunKey, RunRecord, base_record, judge, run_fingerprint

if TYPE_CHECKING:
    from harness.scenario import Scenario


def result_path(results_dir: Path, key: RunKey) -> Path:
    return Path(results_dir) / "results" / f"{key.slug}.json"


def write_failed(record: RunRecord, what: str, path: Path, exc: OSError) -> RunRecord:
    """``record`` as a run that could not write ``what`` at ``path``: status ``error`` (a run
    that had already timed out keeps ``timeout``) and a one-line message naming the path and the
    OS error; the traceback, and any error the run already had, stay in ``record["error"]``."""
    failed = record.copy()
    if failed.get("status") not in ("error", "timeout"):
        failed["status"] = "error"
    error: ErrorInfo = {
        "message": f"cannot write {what} {path}: {os_error_text(exc)}",
        "path": str(path),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    earlier = record.get("error")
    if earlier:
        error["message"] += f"; before that: {earlier.get('message')}"
        error["earlier"] = earlier
    failed["error"] = error
    return failed


def save_result(results_dir: Path, key: RunKey, record: RunRecord) -> RunRecord:
    """Write ``record`` as the result of ``key`` (atomically) and return it; when the write
    fails, the record returned says so (:func:`write_failed`) and nothing written is touched."""
    path = result_path(results_dir, key)
    try:
        write_atomic(path, record_to_json(record))
    except OSError as exc:
        return write_failed(record, "the result", path, exc)
    return record


def unwritable_results(scenario: Scenario, keys: list[RunKey], results_dir: Path) -> list[RunRecord] | None:
    """Before any run: create ``results_dir/results`` and write a probe file there. When that
    fails (the path is a file, permission denied), every run's record with status ``error``
    naming the directory and the OS error, without training; else None."""
    directory = Path(results_dir) / "results"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return [
            write_failed(judge(scenario, key, base_record(scenario, key)), "the results directory", directory, exc)
            for key in keys
        ]
    return None


def read_result(results_dir: Path, key: RunKey) -> RunRecord | None:
    """A run's written result, or None when missing or corrupt (a corrupt one is re-run)."""
    try:
        record = cast("RunRecord", record_from_json(result_path(results_dir, key).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    if record.get("variant") != key.variant or record.get("seed") != key.seed:
        return None
    return record


def reusable_result(results_dir: Path, scenario: Scenario, key: RunKey) -> RunRecord | None:
    """The written result of ``key`` if it exists, parses and has this configuration's fingerprint,
    and is not a ``transient`` error (the machine under the run failed, e.g. a lost Ray node:
    such a run is run again)."""
    existing = read_result(results_dir, key)
    if existing is not None and existing.get("fingerprint") == run_fingerprint(scenario, key):
        if existing.get("status") == "error" and (existing.get("error") or {}).get("transient"):
            return None
        return existing
    return None

"""``harness watch [OPTIONS] -- COMMAND...``: run a training program unmodified, then print what the monitors found.

The program runs in a child process with the watcher loaded first (:mod:`.boot`); its
stdout, stderr and exit code pass through unchanged, and a signal that killed it kills
``harness watch`` the same way. The findings are printed to stderr after it ends (stdout
stays exactly the program's). Nothing is written into the working directory unless a
report option names a file. Torch is never imported here: the child imports it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from harness.cli.options import PluginFlags, report_options, watch_plugin_options

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
#: the error type of a program that could not be watched (``--fail-on`` fails on it)
NOT_WATCHED = "not_watched"
SKIPPED = (
    "python {option} starts without harness's sitecustomize (it ignores PYTHONPATH or site), so the watcher cannot load"
)
PYTHON_NAMES = ("python", "python3", f"python3.{sys.version_info.minor}")


def resolve_command(command: tuple[str, ...]) -> list[str]:
    """The argv to run: a bare ``python``/``python3`` and ``torchrun`` become this interpreter (the
    one harness is installed in), so the watcher can load in every process; a command named by
    path (``/other/venv/bin/python``) and anything else run as given."""
    argv = list(command)
    if os.sep in argv[0] or (os.altsep and os.altsep in argv[0]):
        return argv  # the interpreter named is the one that runs (one line says so if it cannot watch)
    head = argv[0]
    if head in PYTHON_NAMES:
        return [sys.executable, *argv[1:]]
    if head == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", *argv[1:]]
    return argv


def script_of(argv: list[str]) -> str:
    """The script or module a command runs (the report's scenario name)."""
    args = argv[1:]
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):
            return args[i + 1] if args[i + 1] != "torch.distributed.run" else script_of(["", *args[i + 2 :]])
        if not arg.startswith("-") and (arg.endswith(".py") or os.path.exists(arg)):
            return arg
    return os.path.basename(argv[0])


def run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` with inherited stdio in its own process group: each signal sent to harness
    (INT, TERM, HUP, QUIT, USR1, USR2) reaches it once, and at a terminal it has the foreground
    while it runs (:mod:`harness.execution.foreground`). Its exit code (-N: killed by signal N)."""
    from harness.execution.foreground import run_in_own_group

    try:
        return run_in_own_group(argv, env)
    except OSError as exc:
        raise click.ClickException(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None


def not_watched(argv: list[str], reasons: list[str]) -> dict[str, Any]:
    """The record of a program no process of which could be watched: an error naming why."""
    from harness.core.run_record import new_record

    record = new_record("script", 0, plugins={}, train={"command": argv})
    record["error"] = {"message": "; ".join(dict.fromkeys(reasons)), "type": NOT_WATCHED}
    return record


def suite_report(records: list[dict[str, Any]], argv: list[str], failing: set[str] | None) -> dict[str, Any]:
    """The records as a suite report (``harness report``/``compare`` read it): one run per process,
    and per run, under ``--fail-on``, one expectation ``no KIND finding`` for each failing kind found
    (``failing`` empty: every kind). Without ``--fail-on`` nothing was expected: its findings are
    findings, never a failed expectation."""
    from harness.execution.runner import report_payload
    from harness.integrations.watch.rules import WATCH_RULES

    for record in records:
        kinds = sorted(
            {f["kind"] for f in record["findings"] if failing is not None and (not failing or f["kind"] in failing)}
        )
        record["expectations"] = [
            {"name": f"no {kind} finding", "passed": False, "observed": _observed(record, kind)} for kind in kinds
        ]
    script = script_of(argv)
    section = {
        "name": f"watch {os.path.basename(script)}",
        "path": script,
        "workload": "script",
        "workload_params": {},
        "metrics": [],
        "key_metrics": [],
        "command": argv,
        "plugin_kinds": {rule.name: rule.kind for rule in WATCH_RULES},  # watch's own monitors
    }
    torch = next((r["train"].get("torch") for r in records if r.get("train")), None)
    return report_payload(section, records, torch=torch)  # type: ignore[arg-type]  # watch records are plain dicts


def _observed(record: dict[str, Any], kind: str) -> str:
    """The first finding of ``kind``: its message and, where known, the user's line."""
    first = next(f for f in record["findings"] if f["kind"] == kind)
    where = f" (at {first['where']}: {first.get('source') or ''})" if first.get("where") else ""
    return f"{first['message']}{where}"


def parse_fail_on(text: str | None) -> set[str] | None:
    """``--fail-on``: None (not given), an empty set for ``any``, else the kinds named."""
    if text is None:
        return None
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    if not kinds:
        raise click.BadParameter("name one finding kind or more (comma-separated), or 'any'", param_hint="--fail-on")
    if kinds == {"any"}:
        return set()
    from harness.core.findings import UnknownKindError, check_kinds
    from harness.integrations.watch.config import watched_kinds

    try:
        check_kinds(sorted(kinds), watched_kinds(), "--fail-on")
    except UnknownKindError as exc:
        raise _BadInput(str(exc)) from None
    return kinds


def _plugin_overrides(flags: PluginFlags) -> dict[str, Any]:
    from harness.integrations.watch.config import WatchError, available_plugins, resolve_watch_plugins
    from harness.scenario import parse_plugin_options

    try:
        overrides = parse_plugin_options(flags.with_, flags.without, flags.sets)
        if "train" in overrides:
            raise WatchError("--set train.FIELD=VALUE does not apply: the script sets its own training")
        resolve_watch_plugins(available_plugins(), overrides)
    except (ValueError, TypeError) as exc:
        raise _BadInput(str(exc)) from None
    return overrides


class _BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


@click.command("watch", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND...")
@report_options
@click.option(
    "--fail-on",
    metavar="KIND[,KIND]|any",
    help="Exit 1 when a finding of one of these kinds (any: of any kind) occurs; else the program's exit code.",
)
@click.option(
    "--epoch-steps",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Optimizer steps per epoch when the program trains without a DataLoader.",
)
@click.option(
    "--save-scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.yaml",
    help="Write a scenario that replays the program: broken (a snapshot of it as it ran, its findings) "
    "against the working tree (fixed, the inverse expectations).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="After the findings, print the whole diagnosis: every likely cause of each finding, the evidence "
    "for it in this run and its cure (as harness doctor does). Default: one likely cause per finding.",
)
@watch_plugin_options
def watch_command(
    command: tuple[str, ...],
    report_targets: dict[str, Any],
    fail_on: str | None,
    epoch_steps: int,
    save_scenario: Path | None,
    explain: bool,
    plugin_flags: PluginFlags,
) -> None:
    """Run a training program unmodified with the default monitors attached, then print their findings.

    COMMAND is `python SCRIPT.py ARGS`, `python -m MODULE ARGS` or `torchrun [OPTIONS] SCRIPT.py ARGS`.
    Its output and exit code pass through unchanged; the findings go to stderr, each with the line of
    your code that explains it.

    \b
    harness watch -- python train.py --epochs 3
    harness watch --json out.json --fail-on any -- torchrun --nproc-per-node 2 train_ddp.py
    harness watch --save-scenario incident.yaml -- python train.py --epochs 3
    """
    failing = parse_fail_on(fail_on)
    overrides = _plugin_overrides(plugin_flags)
    from harness.reports import unwritable

    problems = unwritable(report_targets)
    if problems:  # found out before the program runs, not after an hour of training
        raise _BadInput("\n".join(problems))
    argv = resolve_command(command)
    if save_scenario is not None:
        from harness.cli.save_scenario import SaveError, program_of

        try:
            program_of(argv)
        except SaveError as exc:
            raise _BadInput(str(exc)) from None
    code, records = run_watched(argv, {"plugins": overrides, "epoch_steps": epoch_steps})
    if save_scenario is not None:
        from harness.cli.save_scenario import save_scenario as write_scenario

        click.echo(write_scenario(save_scenario, argv, records, code, overrides), err=True)
    _finish(records, argv, code, failing, report_targets, explain)


def run_watched(argv: list[str], config: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Run the program under the watcher: its exit code and its processes' records (one ``not
    watched`` record when none could be watched and something said why)."""
    from harness.execution.watch_launch import (
        collect_records,
        skips_bootstrap,
        unwatched,
        watch_env,
        write_sitecustomize,
    )

    skipped = skips_bootstrap(argv)
    if skipped is not None:
        click.echo(f"harness watch: {SKIPPED.format(option=skipped)}; the program runs unwatched", err=True)
    directory = Path(tempfile.mkdtemp(prefix="harness-watch-"))
    try:
        write_sitecustomize(directory)
        (directory / "runs").mkdir()
        code = run_child(argv, watch_env(directory, directory / "runs", config))
        records = collect_records(directory / "runs", warn=lambda m: click.echo(f"harness watch: {m}", err=True))
        reasons = unwatched(directory / "runs") + ([SKIPPED.format(option=skipped)] if skipped else [])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return code, records or ([not_watched(argv, reasons)] if reasons else [])


def _finish(
    records: list[dict[str, Any]],
    argv: list[str],
    code: int,
    failing: set[str] | None,
    report_targets: dict[str, Any],
    explain: bool = False,
) -> None:
    from rich.console import Console

    from harness.integrations.watch.terminal import print_watch_report
    from harness.reports import ReportWriteError, write_reports

    if records:
        records[0]["exit"] = code  # the program's (its first process's record)
    report = suite_report(records, argv, failing)
    print_watch_report(Console(stderr=True), report, code, explain=explain)
    try:
        write_reports(report, report_targets)
    except ReportWriteError as exc:
        for message in exc.messages:
            click.echo(f"error: {message}", err=True)
        code = code or EXIT_FAILED
    found = {f["kind"] for r in records for f in r["findings"]}
    if failing is not None and (found if not failing else found & failing):
        sys.exit(EXIT_FAILED)
    if failing is not None and any((r.get("error") or {}).get("type") == NOT_WATCHED for r in records):
        sys.exit(EXIT_FAILED)  # nothing was checked: a CI job must not pass on it
    if code < 0:  # killed by a signal: die the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)

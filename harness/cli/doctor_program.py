"""``harness doctor [OPTIONS] -- python train.py ARGS``: the doctor on a program, through a scenario.

The command becomes a script scenario (docs/replay-script.md) with one variant, ``broken``: the
program as written. It is written to ``.harness/<script>/doctor/program.yaml`` (the doctor's
results folder: the runs re-read it) and diagnosed like any scenario; ``--save-scenario`` writes
the incident as a scenario to keep: ``broken`` expecting the findings seen, and ``fixed`` the
proven cure (a fix the watcher applies to the program) judged by the cure criterion, ready for
``pytest``. Torch-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: a scenario's name: what the program's file or module is called, in the characters names allow
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
SCENARIO_FILE = "program.yaml"


def is_command(target: Sequence[str]) -> bool:
    """Whether ``harness doctor``'s arguments are a command (``python train.py``), not a scenario file."""
    if len(target) != 1:
        return True
    return not target[0].endswith((".yaml", ".yml"))


def parse_metrics(items: Sequence[str]) -> dict[str, str]:
    """``--metric NAME=REGEX`` options as a workload's ``metrics:``. :raises ValueError: naming the bad one."""
    out = {}
    for item in items:
        name, sep, pattern = item.partition("=")
        if not sep or not name.strip() or not pattern:
            raise ValueError(f"--metric {item!r}: give NAME=REGEX, e.g. --metric 'val_acc=val_acc ([\\d.]+)'")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"--metric {item!r}: not a regular expression: {exc}") from None
        out[name.strip()] = pattern
    return out


def program_name(program: tuple[str, str, list[str]]) -> str:
    kind, target, _ = program
    stem = Path(target).stem if kind == "script" else target.rsplit(".", 1)[-1]
    return _NAME.sub("-", stem).strip("-") or "program"


def workload_lines(program: tuple[str, str, list[str]], metrics: Mapping[str, str], here: Path) -> list[str]:
    """The ``workload:`` of a program, its script's path relative to ``here`` (the scenario's folder)."""
    kind, target, args = program
    if kind == "script":
        path = Path(target).resolve()
        try:
            target = str(path.relative_to(here.resolve()))
        except ValueError:
            target = str(path)
    lines = ["workload:", f"  {kind}: {json.dumps(target)}", f"  args: {json.dumps(args)}"]
    if metrics:
        lines.append(f"  metrics: {json.dumps(dict(metrics))}")
    return lines


def program_scenario(program: tuple[str, str, list[str]], metrics: Mapping[str, str], directory: Path) -> Path:
    """Write the scenario that runs ``program`` as written into ``directory``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SCENARIO_FILE
    lines = [
        "# Written by `harness doctor -- COMMAND`: the program as a scenario's workload (docs/replay-script.md).",
        f"name: {json.dumps(program_name(program))}",
        *workload_lines(program, metrics, directory),
        "variants:",
        "  broken:",
        "    description: the program as written",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def saved_scenario(
    path: Path,
    program: tuple[str, str, list[str]],
    metrics: Mapping[str, str],
    section: Mapping[str, Any],
    command: str,
) -> str:
    """The incident as a scenario to keep, written to ``path``: broken as written (the findings it
    showed), fixed the proven cure (``section['fixed_yaml']``); what was written, in one line."""
    counts = section.get("observed") or {}
    observed = sorted(counts, key=lambda k: (-counts[k], k))  # the kinds every seed showed first
    broken = [f"finding {k}" for k in observed[:3]] + ["exit == 0"]
    lines = [
        f"# Written by `harness doctor --save-scenario` from: {command}",
        "# Replay it: harness run THIS.yaml, or pytest THIS.yaml (docs/replay-script.md).",
        f"name: {json.dumps(program_name(program))}",
        f"description: {json.dumps(f'{program[1]} as written (broken) against the cure harness doctor proved (fixed)')}",
        *workload_lines(program, metrics, path.parent),
        f"seeds: {json.dumps(list(section.get('seeds') or [0, 1, 2]))}",
        "variants:",
        "  broken:",
        "    description: the program as written",
        "    expect:",
        *(f"      - {line}" for line in broken),
    ]
    fixed = section.get("fixed_yaml")
    if fixed:
        lines.append(fixed)
    else:
        lines.append("  # no cure was proven: add a fixed variant (patch: fix.diff) once you made the edit")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    what = "broken and fixed (the proven cure)" if fixed else "broken only (no cure proven)"
    return f"wrote {path}: {what}; replay it with: harness run {path}"


def doctor_target(
    target: tuple[str, ...], metric_items: tuple[str, ...], save_scenario: Path | None, results_dir: Path | None
) -> tuple[tuple[str, str, list[str]] | None, Path]:
    """``(the program or None, the scenario to diagnose)``: a COMMAND becomes a script scenario
    (:mod:`harness.cli.doctor_program`) written into the doctor's results folder."""
    from harness.cli.driver import BadInput
    from harness.cli.save_scenario import SaveError, program_of
    from harness.cli.watch import resolve_command

    if not is_command(target):
        if metric_items or save_scenario is not None:
            option = "--metric" if metric_items else "--save-scenario"
            raise BadInput(f"{option} goes with a command (harness doctor {option} ... -- python train.py)")
        return None, Path(target[0])
    try:
        program = program_of(resolve_command(target))
        metrics = parse_metrics(metric_items)
    except SaveError:
        raise BadInput(
            f"harness doctor takes a SCENARIO.yaml or -- python SCRIPT.py ARGS / python -m MODULE ARGS, not {' '.join(target)!r}"
        ) from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    folder = results_dir or Path(".harness") / program_name(program) / "doctor"
    return program, program_scenario(program, metrics, folder)


def doctor_steps(
    report: dict[str, Any],
    program: tuple[str, str, list[str]] | None,
    target: tuple[str, ...],
    metric_items: tuple[str, ...],
    save_scenario: Path | None,
) -> list[str]:
    """After ``harness doctor -- COMMAND``: the scenario to keep (written with --save-scenario), the
    edit to check; nothing after ``harness doctor SCENARIO`` (its own next steps apply)."""
    if program is None:
        return []
    section = report.get("doctor") or {}
    command = " ".join(target)
    steps = []
    if save_scenario is not None:
        steps.append(saved_scenario(save_scenario, program, parse_metrics(metric_items), section, command))
    edits = section.get("edits") or []
    if edits:
        steps.append(f"make the edit above, then check it: harness watch -- {command}")
    if save_scenario is None:
        steps.append(f"keep it as a regression test: harness doctor --save-scenario incident.yaml -- {command}")
    return steps

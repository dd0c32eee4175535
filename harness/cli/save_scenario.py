"""``harness watch --save-scenario incident.yaml -- python train.py ARGS``: the watched run as a scenario.

The written scenario replays the program (docs/replay-script.md): ``broken`` is the program as it
ran, a snapshot copy of the script's folder's ``.py`` files saved beside the scenario
(``<name>.snapshot/``; this branch has no ``git:`` pin), with the findings seen and its final
metrics as expectations; ``fixed`` is the working tree, with the inverse expectations, for the user
to run once they have fixed the line. The file is commented so that a person can edit the thresholds.

Which findings become expectations: those that name a line of the program (``where``), the ones
``harness watch`` explains; the others seen are written as comments (a symptom that may not show on
every seed). Torch-free.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

#: the broken run's final loss x "as it was": at least MARGIN x on every seed
MARGIN = 0.8
#: the watcher's metrics a scenario judges, lower is better
LOSSES = ("val_loss", "loss")


class SaveError(ValueError):
    """A command ``--save-scenario`` cannot replay."""


def program_of(argv: list[str]) -> tuple[str, str, list[str]]:
    """``("script", PATH, ARGS)`` or ``("module", NAME, ARGS)`` of a ``python`` command (argv[0]: this interpreter).

    :raises SaveError: another command (``torchrun``, a shell script), or interpreter options.
    """
    if argv[0] != sys.executable or len(argv) < 2:
        raise SaveError("--save-scenario replays `python SCRIPT.py ARGS` or `python -m MODULE ARGS`")
    if argv[1] == "-m" and len(argv) > 2 and argv[2] != "torch.distributed.run":
        return "module", argv[2], argv[3:]
    if argv[1].startswith("-") or not os.path.isfile(argv[1]):
        raise SaveError(f"--save-scenario replays `python SCRIPT.py ARGS`: {argv[1]!r} is not a script")
    return "script", argv[1], argv[2:]


def _q(value: str) -> str:
    """A YAML scalar (JSON strings are YAML)."""
    return json.dumps(value)


def snapshot(script: Path, target: Path) -> Path:
    """Copies of the ``.py`` files of ``script``'s folder (the script and the modules beside it) in
    ``target``; the copy of ``script``."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in sorted(script.parent.glob("*.py")):
        shutil.copy2(path, target / path.name)
    return target / script.name


def expectations(record: dict[str, Any] | None, code: int) -> tuple[list[str], list[str], list[str]]:
    """``(broken, fixed, seen)``: the lines each variant expects, and the other kinds seen (comments)."""
    findings = record["findings"] if record else []
    explained = sorted({f["kind"] for f in findings if f.get("where")})
    others = sorted({f["kind"] for f in findings} - set(explained))
    if not explained and others:
        explained, others = others[:1], others[1:]
    broken = [f"finding {k}" for k in explained]
    fixed = [f"no finding {k}" for k in explained]
    last = record["history"][-1] if record and record["history"] else {}
    for name in LOSSES:
        value = last.get(name)
        if isinstance(value, (int, float)) and value == value and value > 0:
            bar = f"{value * MARGIN:.3g}"
            broken.append(f"final.{name} >= {bar}")
            fixed.append(f"# final.{name} < {bar}")  # a comment: not every cure lowers it (eval mode)
            break
    broken.append(f"exit == {code}")
    fixed.append("exit == 0")
    return broken, fixed, others


def render(
    name: str,
    program: tuple[str, str, list[str]],
    broken_script: str | None,
    record: dict[str, Any] | None,
    code: int,
    plugins: dict[str, Any],
    command: str,
) -> str:
    """The scenario's text: commented YAML."""
    kind, target, args = program
    broken, fixed, others = expectations(record, code)
    last = record["history"][-1] if record and record["history"] else {}
    observed = ", ".join(f"{k} {last[k]:.4g}" for k in LOSSES if isinstance(last.get(k), (int, float)))
    lines = [
        f"# Written by `harness watch --save-scenario` from: {command}",
        "# Replay it (seeds 0-4): harness run THIS.yaml (docs/replay-script.md). Edit the thresholds freely.",
        f"name: {_q(name)}",
        "description: >",
        f"  {target} as it ran (broken) against the working tree (fixed), under the watcher.",
        "workload:",
        f"  {kind}: {_q(target)}",
        f"  args: {json.dumps(args)}",
        "  # metrics: {val_acc: 'val_acc ([\\d.]+)'}   # numbers your script prints, judged like val_loss",
    ]
    if plugins:
        lines.append(f"plugins: {json.dumps(plugins)}   # the monitors' settings of the watched run")
    lines += ["seeds: [0, 1, 2, 3, 4]", "variants:", "  broken:"]
    if broken_script is not None:
        lines += [
            "    description: the program as it ran (a snapshot copy of its folder's .py files)",
            f"    script: {_q(broken_script)}",
        ]
    else:
        lines.append("    description: the program as it ran (a module: the working tree, no snapshot)")
    lines.append(f"    # observed at exit {code}: {observed or 'no loss recorded'}")
    lines.append("    expect:   # what it showed: its findings (with the line they name), its final loss (>= 0.8x)")
    lines += [f"      - {_q(e)}" for e in broken]
    lines += [f"      # - {_q('finding ' + k)}   # also seen (not on every seed, maybe)" for k in others]
    lines += [
        "  fixed:",
        "    description: the working tree, once the line is fixed",
        "    expect:   # the inverse: none of those findings, and (uncomment where your fix must",
        "              # lower it; a fix of eval mode need not) a final loss below the broken bar",
    ]
    lines += [f"      # - {_q(e[2:])}" if e.startswith("# ") else f"      - {_q(e)}" for e in fixed]
    lines += [f"      # - {_q('no finding ' + k)}" for k in others]
    return "\n".join(lines) + "\n"


def save_scenario(
    path: Path, argv: list[str], records: list[dict[str, Any]], code: int, plugins: dict[str, Any]
) -> str:
    """Write the scenario of the watched run to ``path`` (and its snapshot beside it); the line to print."""
    program = program_of(argv)
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    kind, target, args = program
    broken_script = None
    if kind == "script":
        script = Path(target).resolve()
        copy = snapshot(script, path.parent / f"{path.stem}.snapshot")
        broken_script = os.path.relpath(copy, path.parent)
        target = os.path.relpath(script, path.parent)
    command = " ".join(["python", *argv[1:]])
    record = records[0] if records else None
    text = render(path.stem, (kind, target, args), broken_script, record, code, plugins, command)
    path.write_text(text, encoding="utf-8")
    where = f" and {path.stem}.snapshot/" if broken_script else ""
    return f"harness watch: wrote {path}{where}: harness run {path.name} replays it"

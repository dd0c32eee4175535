"""How a failed scenario item reads in pytest: the expectation, the judged epoch, the history around it and each seed's outcome."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from harness.scenario.expectations import Expectation


def _num(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _expected_text(exp: Expectation) -> str:
    p = exp.parts
    if exp.kind == "metric":
        return f"between {_num(p['lo'])} and {_num(p['hi'])}" if "lo" in p else f"{p['op']} {_num(p['num'])}"
    if exp.kind == "run_value":
        return f"{p['op']} {_num(p['num'])}"
    if exp.kind == "status":
        return ("not " if p["negate"] else "") + " or ".join(p["allowed"])
    if exp.kind == "outcome":
        return f"{p['op']} {p['word']}"
    return exp.text


def _history_table(history: list[dict[str, Any]], metric: str, mark_epoch: int | None, label: str) -> list[str]:
    """Two aligned rows, epochs and values, ten epochs per block; the judged epoch marked."""
    rows = [(rec.get("epoch"), rec.get(metric)) for rec in history]
    if not rows:
        return ["    (no epoch finished)"]
    out = []
    width = max(len(metric), 5)
    for start in range(0, len(rows), 10):
        block = rows[start : start + 10]
        cells = [(str(e), _num(v) if v is not None else "-") for e, v in block]
        col = [max(len(a), len(b)) + 2 for a, b in cells]
        epochs = "".join(a.rjust(w) for (a, _), w in zip(cells, col, strict=False))
        values = "".join(b.rjust(w) for (_, b), w in zip(cells, col, strict=False))
        marker = "".join(("^" if e == mark_epoch else " ").rjust(w) for (e, _), w in zip(block, col, strict=False))
        out += [f"    {'epoch'.ljust(width)}{epochs}", f"    {metric.ljust(width)}{values}"]
        if mark_epoch is not None and any(e == mark_epoch for e, _ in block):
            out.append(f"    {''.ljust(width)}{marker.rstrip()}  {label}")
    return out


def _judged_epoch(exp: Expectation, history: list[dict[str, Any]]) -> tuple[int | None, str]:
    p = exp.parts
    values = [
        (rec.get("epoch"), value)
        for rec in history
        if isinstance(value := rec.get(p["metric"]), (int, float)) and not math.isnan(value)
    ]
    if not values:
        return None, ""
    if p["sel"] == "epoch":
        return p["epoch"], f"epoch {p['epoch']}"
    if p["sel"] == "final":
        return values[-1][0], "final"
    if p["sel"] == "first":
        return values[0][0], "first"
    pick = min if p["sel"] == "min" else max
    return pick(values, key=lambda ev: ev[1])[0], p["sel"]


def _display_path(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def format_run_failure(scenario: Scenario, record: Mapping[str, Any]) -> str:
    """A failed run as a readable assertion message (what ``pytest scenarios/`` prints).

    The first line (pytest's short summary shows it) names the failed expectations with
    what was observed; then the scenario, variant and seed, the run, and for each failed
    expectation observed vs expected and the per-epoch history of the metric involved.
    """
    variant = scenario.variants[record["variant"]]
    lines = [
        _failure_headline(record),
        f"scenario {scenario.name!r} ({_display_path(scenario.path)}), variant {record['variant']!r}, seed {record['seed']}",
        *_run_summary(record, scenario.plugin_modules),
    ]
    error = record.get("error")
    if error:  # a plugin's traceback holds only its own frames; of any other, the last ones
        frames = error.get("traceback", "").rstrip().splitlines()
        lines += ["", *("  " + line for line in (frames if error.get("plugin") else frames[-8:]))]
    by_text = {exp.text: exp for exp in variant.expectations}
    shown_kinds: set[str] = set()
    for entry in record["expectations"]:
        lines += _expectation_lines(entry, by_text.get(entry["name"]), record, shown_kinds)
    others = [f for f in record.get("findings", []) if f["kind"] not in shown_kinds]
    if others:
        lines += ["", "other findings:"]
        lines += [f"  epoch {f['epoch']}: {f['kind']} ({f['plugin']}): {f['message']}" for f in others]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip()


def _failure_headline(record: Mapping[str, Any]) -> str:
    """The first line: the status of a run that ended early, else the failed expectations."""
    if record["status"] in ("error", "timeout"):
        first = f"the run ended with status {record['status']!r}"
        if record.get("error"):
            first += f": {record['error']['message']}"
        return first
    failed = [e for e in record["expectations"] if e["passed"] is False]
    return f"{len(failed)} of {len(record['expectations'])} expectations failed: " + "; ".join(
        f"{e['name']} (observed {_num(e['observed'])})" for e in failed
    )


def _run_summary(record: Mapping[str, Any], plugin_modules: tuple[str, ...]) -> list[str]:
    """The run (status, epochs, steps, seconds, why it stopped) and the fixes and monitors it had on."""
    from harness.core.pluginmanager import plugin_kinds

    history = record.get("history", [])
    run = f"run: status {record['status']}, {len(history)} epoch(s), {record.get('steps', 0)} steps, {record.get('seconds', 0):.1f} s"
    if record.get("stop_reason"):
        run += f"; stopped: {record['stop_reason']}"
    if record.get("diverged_at_step"):
        run += f"; diverged at step {record['diverged_at_step']}"
    kinds = plugin_kinds(plugin_modules)
    enabled = [name for name in record.get("plugins", {}) if kinds.get(name) != "core"]
    fixes = [name for name in enabled if kinds.get(name) != "monitor"]
    monitors = [name for name in enabled if kinds.get(name) == "monitor"]
    return [run, f"fixes on: {', '.join(fixes) or '(none)'}; monitors on: {', '.join(monitors) or '(none)'}"]


def _expectation_lines(
    entry: Mapping[str, Any], exp: Expectation | None, record: Mapping[str, Any], shown_kinds: set[str]
) -> list[str]:
    """One line for an expectation that held (or did not apply); for a failed one observed vs
    expected and the evidence: the metric's history, the findings of its kind, the steps, the outcomes."""
    if entry["passed"] is not False:
        mark = "passed " if entry["passed"] else "n/a    "
        seen = f"n/a: {entry['reason']}" if entry.get("reason") else f"observed {_num(entry['observed'])}"
        return [f"  {mark} {entry['name']}  ({seen})"]
    history = record.get("history", [])
    expected = _expected_text(exp) if exp is not None else entry["name"]
    lines = ["", f"  FAILED  {entry['name']}", f"          observed {_num(entry['observed'])}, expected {expected}"]
    if exp is None:
        pass
    elif exp.kind == "metric":
        epoch, label = _judged_epoch(exp, history)
        lines.append(f"          {exp.metric} per epoch:")
        lines += ["      " + row for row in _history_table(history, exp.parts["metric"], epoch, label)]
    elif exp.kind == "finding":
        kind = exp.parts["kind"]
        shown_kinds.add(kind)
        hits = [f for f in record.get("findings", []) if f["kind"] == kind]
        lines.append(f"          {kind} findings:" + ("" if hits else " none"))
        lines += [f"            epoch {f['epoch']} ({f['plugin']}): {f['message']}" for f in hits]
    elif exp.kind == "run_value":
        lines.append("          steps per epoch:")
        lines += ["      " + row for row in _history_table(history, "steps", None, "")]
    elif exp.kind == "outcome":
        lines.append(f"          outcomes: {record.get('outcomes', {})}")
    return [*lines, ""]


def _run_outcome(record: Mapping[str, Any]) -> str:
    """What one seed's run came to, on one line."""
    if record["status"] in ("error", "timeout"):
        message = (record.get("error") or {}).get("message")
        return f"status {record['status']}" + (f": {message}" if message else "")
    failed = [e for e in record["expectations"] if e["passed"] is False]
    if not failed:
        return f"status {record['status']}, every expectation holds"
    return f"status {record['status']}, failed: " + "; ".join(
        f"{e['name']} (observed {_num(e['observed'])})" for e in failed
    )


def seed_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per seed: ``seed 1  status ok, failed: final.f1 >= 0.8 (observed 0.6)``."""
    return [f"seed {r['seed']}  {_run_outcome(r)}" for r in records]


def format_variant_failure(scenario: Scenario, records: Sequence[Mapping[str, Any]], summary: dict[str, Any]) -> str:
    """A variant that failed, judged over its seeds as ``harness run`` judges it.

    One seed: :func:`format_run_failure` of its run. Several: the first line names each
    expectation that missed its pass rate (``final.f1 >= 0.8 passed on 1/3 seeds, needs >= 0.5``),
    then the scenario and variant, each expectation's pass count, one line per seed, and the
    full :func:`format_run_failure` of every seed that did not pass.
    """
    from harness.judging.verdicts import run_ok

    if len(records) == 1:
        return format_run_failure(scenario, records[0])
    variant = records[0]["variant"]
    rows = summary["expectations"]
    missed = [row for row in rows if not row["ok"]]

    def need(row: dict[str, Any]) -> str:
        return row["pass_rate"] or "every seed"

    if missed:
        first = (
            f"{len(missed)} of {len(rows)} expectations missed their pass rate over {len(records)} seeds: "
            + "; ".join(
                f"{row['name']} passed on {row['passed']}/{row['applicable']} seeds, needs {need(row)}"
                for row in missed
            )
        )
    else:  # no expectations: a run that errored fails the variant
        failed = [r for r in records if r["status"] in ("error", "timeout")]
        first = f"{len(failed)} of {len(records)} runs ended with an error: seeds {', '.join(str(r['seed']) for r in failed)}"
    seeds = ", ".join(str(r["seed"]) for r in records)
    lines = [
        first,
        (
            f"scenario {scenario.name!r} ({_display_path(scenario.path)}), variant {variant!r}, seeds {seeds}: "
            f"{summary['passed_runs']} of {len(records)} passed every expectation"
        ),
        "",
    ]
    for row in rows:
        mark = "n/a    " if not row["applicable"] else ("passed " if row["ok"] else "FAILED ")
        count = f"{row['passed']}/{row['applicable']}" if row["applicable"] else "-"
        lines.append(f"  {mark} {count:>5}  {row['name']}  (needs {need(row)})")
    lines += ["", *("  " + line for line in seed_lines(records))]
    for record in records:
        if not run_ok(record):
            lines += ["", f"---- seed {record['seed']} ----", format_run_failure(scenario, record)]
    return "\n".join(lines).rstrip()

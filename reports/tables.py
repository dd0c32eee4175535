"""The numbers and rows that the terminal and the HTML report both show, without markup.

Each renderer writes these in its own markup (rich, HTML); what a table holds is decided
here once: the variants' summaries, the key metrics as columns (the workload's declaration,
:func:`harness.judging.verdicts.report_key_metrics`), mean ± std over the seeds, a run's findings
by kind, and the ablation table's rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# ------------------------------------------------------------------ numbers


def number_text(value: Any, digits: int = 3, missing: str = "-") -> str:
    """A value as a report shows it: floats to ``digits`` places (scientific when very large or
    small, ``nan``), ``missing`` for None, anything else as ``str``."""
    if value is None:
        return missing
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10**-digits):
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}f}"
    return str(value)


def mean_std_text(stat: dict[str, Any] | None, *, separator: str, missing: str, digits: int = 3) -> str:
    """``0.812<separator>0.031``: a metric's mean and std over the seeds (the mean alone for one
    seed, ``missing`` without one); the std in the mean's notation."""
    if not stat or stat.get("mean") is None:
        return missing
    mean = number_text(stat["mean"], digits, missing)
    if stat.get("n", 0) <= 1:
        return mean
    std = number_text(stat["std"], digits, missing) if "e" in mean else f"{stat['std']:.{digits}f}"
    return f"{mean}{separator}{std}"


# ------------------------------------------------------------------ variants and runs


def summaries_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-variant summaries of a report (recomputed for a report written before they existed)."""
    variants = report.get("variants")
    if isinstance(variants, dict):
        return variants
    from harness.judging.verdicts import report_key_metrics, summarize_variants

    return summarize_variants(report["runs"], report_key_metrics(report))


def variant_runs(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The run records of one variant, in the report's order."""
    return [r for r in report["runs"] if r["variant"] == name]


def program_line(runs: list[dict[str, Any]]) -> str | None:
    """A script's runs in its terms: the command line (its first run's) and the exit codes seen
    (``python train.py --epochs 4 · exit 0``); None for runs that ran no program."""
    commands = [(r.get("train") or {}).get("command") for r in runs]
    if not commands or not commands[0]:
        return None
    argv = [str(a) for a in commands[0]]
    if "python" in os.path.basename(argv[0]):  # the interpreter harness ran it with
        argv = ["python", *argv[1:]]
    elif argv[0].endswith(".py"):  # a process's own sys.argv (harness watch)
        argv = ["python", *argv]
    codes = sorted({r["exit"] for r in runs if r.get("exit") is not None})
    exits = f" · exit {', '.join(str(c) for c in codes)}" if codes else ""
    return " ".join(str(a) for a in argv) + exits


def seeds_of(report: dict[str, Any]) -> list[Any]:
    """The report's seeds (as the runs have them, for a report that does not list them)."""
    return report.get("seeds") or sorted({r["seed"] for r in report["runs"]})


def last_epoch(run: dict[str, Any]) -> dict[str, Any]:
    """The run's last history entry (empty when it completed no epoch): its final values."""
    return run["history"][-1] if run["history"] else {}


def findings_by_kind(run: dict[str, Any]) -> dict[str, list[int]]:
    """The epochs of each kind of finding the run's plugins recorded, in the order first found."""
    kinds: dict[str, list[int]] = {}
    for finding in run["findings"]:
        kinds.setdefault(finding["kind"], []).append(finding["epoch"])
    return kinds


def expectation_entry(run: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The run's result for the expectation line ``name`` (None when the run has no such line)."""
    return next((e for e in run["expectations"] if e["name"] == name), None)


@dataclass(frozen=True)
class SummaryRow:
    """A row of the summary table: a variant, its summary, its runs and, per key metric (the
    table's metric columns, in order), the metric's stat over the seeds (``mean``, ``std``, ``n``)."""

    name: str
    summary: dict[str, Any]
    runs: list[dict[str, Any]]
    stats: list[dict[str, Any]]


def summary_rows(
    report: dict[str, Any], metrics: list[str], summaries: dict[str, dict[str, Any]] | None = None
) -> list[SummaryRow]:
    """One :class:`SummaryRow` per variant, with a stat per metric of ``metrics``."""
    from harness.judging.verdicts import metric_stat

    rows = []
    for name, summary in (summaries_of(report) if summaries is None else summaries).items():
        runs = variant_runs(report, name)
        rows.append(SummaryRow(name, summary, runs, [metric_stat(summary, runs, m) for m in metrics]))
    return rows


# ------------------------------------------------------------------ ablation


@dataclass(frozen=True)
class AblationCells:
    """How a renderer writes the ablation table's cells in its markup: a fix's ``name`` and
    ``change``, an ``arm``'s cured count (its summary: ``passed_runs``, ``runs``, ``skipped``,
    ``seeds_disagree``), a ``verdict`` (True, False, or None for n/a)."""

    name: Callable[[str], str]
    change: Callable[[str], str]
    arm: Callable[[dict[str, Any]], str]
    verdict: Callable[[bool | None], str]


#: the ablation table's columns, in order, and which of them hold counts (right-aligned)
ABLATION_COLUMNS = ("fix", "change", "base_plus_fix", "sufficient", "target_minus_fix", "necessary")
ABLATION_COUNTS = frozenset({"base_plus_fix", "target_minus_fix"})


def ablation_rows(ablation: dict[str, Any], cells: AblationCells) -> list[list[str]]:
    """One row of cells per fix, in :data:`ABLATION_COLUMNS` order: the fix, its change, base +
    fix cured and *sufficient*, target − fix cured and *necessary*."""
    return [
        [
            cells.name(row["plugin"]),
            cells.change(row["change"]),
            cells.arm(row["base_plus_fix"]),
            cells.verdict(row["sufficient"]),
            cells.arm(row["target_minus_fix"]),
            cells.verdict(row["necessary"]),
        ]
        for row in ablation["fixes"]
    ]


def cured_text(arm: dict[str, Any]) -> str:
    """``cured`` or ``not cured``: an ablation arm's (or base's, target's) verdict."""
    return "cured" if arm["cured"] else "not cured"


def reproduces_text(ablation: dict[str, Any]) -> str:
    """``reproduced the incident on k/N seeds, by its own expectations``: whether the base fails
    as the incident did, in the words of :mod:`harness.reports.outcomes` (empty when the
    ablation did not judge it)."""
    found = ablation.get("base_reproduces")
    if not found:
        return ""
    return f"reproduced the incident on {found['passed_runs']}/{found['runs']} seeds, by its own expectations"


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 12, scale: tuple[float, float] | None = None) -> str:
    """One block character per value (resampled to at most ``width`` characters), on
    ``scale`` (low, high: one per metric across variants and seeds) or the values' own range."""
    vals = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not vals:
        return ""
    if len(vals) > width:
        vals = [vals[round(i * (len(vals) - 1) / (width - 1))] for i in range(width)]
    lo, hi = scale or (min(vals), max(vals))
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in vals)


def metric_ranges(report: dict[str, Any], metrics: list[str]) -> dict[str, tuple[float, float]]:
    """Each metric's (low, high) over every epoch of every run: the sparklines' common scale."""
    ranges = {}
    for m in metrics:
        vals = [h.get(m) for r in report.get("runs", []) for h in r.get("history") or []]
        vals = [v for v in vals if isinstance(v, (int, float)) and not math.isnan(v)]
        if vals:
            ranges[m] = (min(vals), max(vals))
    return ranges


def ranges_text(report: dict[str, Any]) -> str:
    """``sparklines: one scale per metric over every variant and seed: F1 0.000-0.847, ...``"""
    from harness.judging.verdicts import report_key_metrics
    from harness.reports import metric_label

    ranges = metric_ranges(report, report_key_metrics(report))
    parts = [f"{metric_label(m)} {number_text(lo)}-{number_text(hi)}" for m, (lo, hi) in ranges.items()]
    return "sparklines: one scale per metric over every variant and seed: " + ", ".join(parts) if parts else ""

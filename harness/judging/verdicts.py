"""Verdicts over seeds: per variant, from run records alone (so saved reports re-render).

A variant ran with N seeds. Each expectation line holds on some of them; its
``pass_rate`` (``{expect: LINE, pass_rate: ">= 0.8"}`` in the scenario, recorded in each
run's expectation entry) says which share of the seeds is enough, and without one every
seed must pass. A run that errored or timed out counts as failing every expectation,
unless one of its lines expects that status (``status == error``, a replayed crash).
A variant passes when each of its expectations meets its pass rate (a variant with no
expectations passes when no run errored); with no ``pass_rate`` anywhere this is exactly
"every run passed". A variant is *flaky* when some seeds pass every expectation and
others do not. Pure functions of JSON-like dicts: no torch, no scenario file.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.metrics import metric_matches
from harness.scenario.expectations import ALL_SEEDS, PassRate, expects_failure, parse_pass_rate

FAILED_STATUSES = ("error", "timeout")


def run_failed(record: Mapping[str, Any]) -> bool:
    """Whether a run failed whatever its expectations say: it ended in a failed status
    (``error``, ``timeout``) that no line of it expects (``status == error``: a scenario that
    replays a crash; :func:`harness.scenario.expectations.expects_failure`)."""
    return record.get("status") in FAILED_STATUSES and not expects_failure(record)


def run_ok(record: Mapping[str, Any]) -> bool:
    """A run passes when it did not fail and every applicable expectation holds."""
    if run_failed(record):
        return False
    if record.get("status") in ("skipped", "running"):  # early decisions: never run, or still training
        return False
    return all(e.get("passed") is not False and not e.get("open") for e in record.get("expectations", []))


def run_verdict(record: Mapping[str, Any]) -> bool | None:
    """A recorded run's verdict: True passed, False failed, None not known (open lines:
    stopped when its group was decided, or skipped)."""
    status = record.get("status")
    if run_failed(record):
        return False
    entries = record.get("expectations", [])
    if any(e.get("passed") is False for e in entries):
        return False
    if status in ("skipped", "running") or any(e.get("open") for e in entries):
        return None
    return True


def rate_decision(rule: PassRate, passed: int, applicable: int, unknown: int, *, may_be_na: bool = True) -> bool | None:
    """Whether ``rule`` holds over ``passed`` of ``applicable`` runs whatever ``unknown`` more
    runs turn out to be (each passing, failing or, with ``may_be_na``, not applicable):
    True or False when every outcome agrees, else None."""
    seen: set[bool] = set()
    for extra in range(unknown + 1) if may_be_na else (unknown,):
        for more_passed in range(extra + 1):
            seen.add(rule.holds(passed + more_passed, applicable + extra))
            if len(seen) > 1:
                return None
    return seen.pop()


#: what the training loop records in every epoch besides the workload's own metrics
LOOP_KEYS = ("epoch", "loss", "steps", "lr")


def _recorded(records: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """Every numeric history key of the runs (in the order first recorded) -> whether it took a
    fractional (float) value: counts such as ``n`` only ever hold integers."""
    seen: dict[str, bool] = {}
    for record in records:
        for epoch in record.get("history", []):
            for name, value in epoch.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    seen[name] = seen.get(name, False) or isinstance(value, float)
    return seen


def key_metrics(records: Sequence[Mapping[str, Any]], declared: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """The metrics a summary shows (the columns of every report), as far as the runs recorded them.

    ``declared``: the workload's headline metrics, in order (``Workload.key_metrics``, carried
    as ``report["scenario"]["key_metrics"]``); ``x_<k>`` stands for every ``x_0``, ``x_1``, ...
    recorded. A declared name no run recorded is left out (all are kept while no run has any
    history). Without a declaration (a report written before there was one), or when the runs
    recorded none of its validation metrics (a workload that kept a default it does not
    compute): the first two validation metrics the runs recorded with fractional values, in
    the order the workload returned them (so counts such as ``n`` are skipped), and the
    training loss.
    """
    recorded = _recorded(records)
    if declared:
        names: list[str] = []
        for entry in declared:
            if entry.endswith("_<k>"):
                matches = [m for m in recorded if metric_matches(m, (entry,))]
            else:
                matches = [entry] if entry in recorded or not recorded else []
            names += [m for m in matches if m not in names]
        if names and (any(m not in LOOP_KEYS for m in names) or all(d in LOOP_KEYS for d in declared)):
            return names
    fallback = [m for m, fractional in recorded.items() if fractional and m not in LOOP_KEYS][:2]
    return fallback + (["loss"] if "loss" in recorded else [])


def report_key_metrics(report: dict[str, Any]) -> list[str]:
    """The key metrics of a suite report: :func:`key_metrics` of its runs with the declaration in
    ``report["scenario"]["key_metrics"]``; for a report written before there was one, the metrics
    its saved per-variant summaries hold (the columns it was first shown with), else
    :func:`key_metrics` of its runs alone."""
    runs = report.get("runs") or []
    declared = (report.get("scenario") or {}).get("key_metrics")
    if declared:
        return key_metrics(runs, declared)
    saved = report.get("variants")
    if isinstance(saved, dict):
        names = list(dict.fromkeys(m for s in saved.values() if isinstance(s, dict) for m in s.get("metrics") or {}))
        if names:
            return names
    return key_metrics(runs)


def metric_stat(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]], metric: str) -> dict[str, Any]:
    """A variant's :func:`mean_std` of ``metric``: from its summary, else from its runs' final values."""
    stats = summary.get("metrics") or {}
    if metric in stats:
        saved: dict[str, Any] = stats[metric]  # a report's JSON: the mean_std written for it
        return saved
    return mean_std([final_value(r, metric) for r in records])


def final_value(record: Mapping[str, Any], metric: str) -> float | None:
    """The metric's last finite value in the run's history (None when it never had one)."""
    for epoch in reversed(record.get("history", [])):
        value = epoch.get(metric)
        if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
            return float(value)
    return None


def mean_std(values: list[float | None]) -> dict[str, Any]:
    """``{"mean", "std", "n", "values"}``; std is the sample standard deviation (0 for one value)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    mean = statistics.fmean(finite) if finite else None
    std = statistics.stdev(finite) if len(finite) > 1 else (0.0 if finite else None)
    return {"mean": mean, "std": std, "n": len(finite), "values": list(values)}


def _rate_of(entry: Mapping[str, Any]) -> PassRate | None:
    text = entry.get("pass_rate")
    return parse_pass_rate(text) if text is not None else None


def expectation_rates(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per expectation line (in order): passes, applicable runs, the rule and whether it holds.

    Early decisions (:mod:`harness.judging.decisions`): a line left open by a run that stopped when
    its verdict was decided, and every line of a skipped run, is ``unknown``; ``ok`` is then
    what the rule gives whatever those turn out to be (``decided``), and only when that is
    not settled (a report merged by hand) the rule over the known runs alone."""
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for record in records:
        for entry in record.get("expectations", []):
            if entry["name"] not in names:
                names.append(entry["name"])
    for name in names:
        passed = applicable = unknown = 0
        rule: PassRate | None = None
        for record in records:
            entry = next((e for e in record.get("expectations", []) if e["name"] == name), None)
            if entry is not None and rule is None:
                rule = _rate_of(entry)
            failed_run = run_failed(record)
            if failed_run:
                applicable += 1  # a failed run fails every expectation, applicable or not
            elif record.get("status") == "skipped" or (entry is not None and entry.get("open")):
                unknown += 1
            elif entry is not None and entry.get("passed") is not None:
                applicable += 1
                passed += bool(entry["passed"])
        effective = rule or ALL_SEEDS
        decided = rate_decision(effective, passed, applicable, unknown)
        rows.append(
            {
                "name": name,
                "pass_rate": rule.text if rule else None,
                "passed": passed,
                "applicable": applicable,
                "rate": passed / applicable if applicable else None,
                "ok": decided if decided is not None else effective.holds(passed, applicable),
            }
        )
        if unknown:  # early decisions only: lines not judged on some runs
            rows[-1].update(unknown=unknown, decided=decided is not None)
    return rows


def summarize_variant(records: Sequence[Mapping[str, Any]], metrics: list[str] | None = None) -> dict[str, Any]:
    """The seed statistics and verdict of one variant's runs (all the same variant).

    With early decisions (:mod:`harness.judging.decisions`) ``runs`` counts the runs that trained
    (``skipped`` those left out, ``decided`` those stopped when the verdict was decided);
    ``metrics`` are over the runs that trained to their end (a decided run's last values are
    not final ones)."""
    metrics = metrics if metrics is not None else key_metrics(records)
    ran = [r for r in records if r.get("status") != "skipped"]
    ok = [run_ok(r) for r in ran]
    failed_runs = sum(run_verdict(r) is False for r in ran)
    rates = expectation_rates(records)
    errored = sum(run_failed(r) for r in records)
    passed = all(row["ok"] for row in rates) if rates else errored == 0
    plugin_sets = {repr(sorted(r.get("plugins", {}).items())) for r in records}
    finished = [r for r in ran if r.get("status") != "decided"]
    return {
        "seeds": [r.get("seed") for r in records],
        "runs": len(ran),
        "passed_runs": sum(ok),
        "passed": passed,
        "flaky": sum(ok) > 0 and failed_runs > 0,
        "uses_pass_rate": any(row["pass_rate"] for row in rates),
        "statuses": [r.get("status") for r in records],
        "plugins": records[0].get("plugins", {}) if len(plugin_sets) == 1 and records else None,
        "metrics": {m: mean_std([final_value(r, m) for r in finished]) for m in metrics},
        "expectations": rates,
        "decided": sum(r.get("status") == "decided" for r in ran),
        "skipped": len(records) - len(ran),
    }


def summarize_variants(
    records: Sequence[Mapping[str, Any]], declared: tuple[str, ...] | list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Variant name -> :func:`summarize_variant`, variants in the order they first appear; every
    variant with the same :func:`key_metrics` (``declared``: the workload's)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["variant"], []).append(record)
    metrics = key_metrics(records, declared)
    return {name: summarize_variant(runs, metrics) for name, runs in groups.items()}


def suite_passed(summaries: dict[str, dict[str, Any]]) -> bool:
    return all(s["passed"] for s in summaries.values())

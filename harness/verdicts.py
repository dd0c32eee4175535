"""Verdicts over seeds: per variant, from run records alone (so saved reports re-render).

A variant ran with N seeds. Each expectation line holds on some of them; its
``pass_rate`` (``{expect: LINE, pass_rate: ">= 0.8"}`` in the scenario, recorded in each
run's expectation entry) says which share of the seeds is enough, and without one every
seed must pass. A run that errored or timed out counts as failing every expectation.
A variant passes when each of its expectations meets its pass rate (a variant with no
expectations passes when no run errored); with no ``pass_rate`` anywhere this is exactly
"every run passed". A variant is *flaky* when some seeds pass every expectation and
others do not. Pure functions of JSON-like dicts: no torch, no scenario file.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from harness.expectations import ALL_SEEDS, PassRate, parse_pass_rate

FAILED_STATUSES = ("error", "timeout")


def run_ok(record: dict[str, Any]) -> bool:
    """A run passes when it did not fail and every applicable expectation holds."""
    if record.get("status") in FAILED_STATUSES:
        return False
    return all(e.get("passed") is not False for e in record.get("expectations", []))


def key_metrics(records: list[dict[str, Any]]) -> list[str]:
    """The metrics a summary shows: the score (f1, else auc), the balance (predicted-positive
    share, else output std) and the training loss, as far as the workload has them."""
    seen: set[str] = set()
    for record in records:
        for epoch in record.get("history", []):
            seen.update(k for k, v in epoch.items() if isinstance(v, (int, float)))
    chosen = [next((m for m in group if m in seen), None) for group in (("f1", "auc"), ("pred_positive_share", "output_std"), ("loss",))]
    return [m for m in chosen if m]


def final_value(record: dict[str, Any], metric: str) -> float | None:
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


def _rate_of(entry: dict[str, Any]) -> PassRate | None:
    text = entry.get("pass_rate")
    return parse_pass_rate(text) if text is not None else None


def expectation_rates(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per expectation line (in order): passes, applicable runs, the rule and whether it holds."""
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for record in records:
        for entry in record.get("expectations", []):
            if entry["name"] not in names:
                names.append(entry["name"])
    for name in names:
        passed = applicable = 0
        rule: PassRate | None = None
        for record in records:
            entry = next((e for e in record.get("expectations", []) if e["name"] == name), None)
            if entry is not None and rule is None:
                rule = _rate_of(entry)
            failed_run = record.get("status") in FAILED_STATUSES
            if failed_run:
                applicable += 1  # a failed run fails every expectation, applicable or not
            elif entry is not None and entry.get("passed") is not None:
                applicable += 1
                passed += bool(entry["passed"])
        effective = rule or ALL_SEEDS
        rows.append(
            {
                "name": name,
                "pass_rate": rule.text if rule else None,
                "passed": passed,
                "applicable": applicable,
                "rate": passed / applicable if applicable else None,
                "ok": effective.holds(passed, applicable),
            }
        )
    return rows


def summarize_variant(records: list[dict[str, Any]], metrics: list[str] | None = None) -> dict[str, Any]:
    """The seed statistics and verdict of one variant's runs (all the same variant)."""
    metrics = metrics if metrics is not None else key_metrics(records)
    ok = [run_ok(r) for r in records]
    rates = expectation_rates(records)
    errored = sum(r.get("status") in FAILED_STATUSES for r in records)
    passed = all(row["ok"] for row in rates) if rates else errored == 0
    plugin_sets = {repr(sorted(r.get("plugins", {}).items())) for r in records}
    return {
        "seeds": [r.get("seed") for r in records],
        "runs": len(records),
        "passed_runs": sum(ok),
        "passed": passed,
        "flaky": 0 < sum(ok) < len(records),
        "uses_pass_rate": any(row["pass_rate"] for row in rates),
        "statuses": [r.get("status") for r in records],
        "plugins": records[0].get("plugins", {}) if len(plugin_sets) == 1 and records else None,
        "metrics": {m: mean_std([final_value(r, m) for r in records]) for m in metrics},
        "expectations": rates,
    }


def summarize_variants(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Variant name -> :func:`summarize_variant`, variants in the order they first appear."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["variant"], []).append(record)
    metrics = key_metrics(records)
    return {name: summarize_variant(runs, metrics) for name, runs in groups.items()}


def suite_passed(summaries: dict[str, dict[str, Any]]) -> bool:
    return all(s["passed"] for s in summaries.values())

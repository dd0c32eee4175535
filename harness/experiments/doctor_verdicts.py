"""Judging the doctor's arms: cured means the variant's findings gone and the main metric at the reference's level."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.scenario.expectations import PassRate

if TYPE_CHECKING:
    from harness.execution.records import RunRecord
    from harness.experiments.doctor_candidates import Candidate


#: words that make a metric lower-is-better (``loss``, ``val_loss``, ``mse``, ...)
LOWER_IS_BETTER = frozenset({"loss", "error", "mse", "mae", "rmse", "nll", "perplexity"})


def lower_is_better(metric: str) -> bool:
    return any(word in LOWER_IS_BETTER for word in metric.lower().split("_"))


def observed_kinds(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Finding kind -> in how many of the runs it was recorded."""
    counts: Counter[str] = Counter()
    for record in records:
        counts.update({f["kind"] for f in record.get("findings", [])})
    return counts


def persistent_kinds(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The finding kinds some run still recorded in its last epoch (the others came and went)."""
    found: set[str] = set()
    for record in records:
        last = max((h.get("epoch", 0) for h in record.get("history", [])), default=None)
        found |= {f["kind"] for f in record.get("findings", []) if last is not None and f["epoch"] >= last}
    return found


def cure_lines(
    kinds: Iterable[str], metric: str | None, threshold: float | None, persistent: Iterable[str] = (), epochs: int = 1
) -> list[str]:
    """The default cure criterion as expectation lines: a kind the variant showed only on the
    way must not appear at all; one it still showed in its last epoch (``persistent``) must be
    gone by the last epoch (a cure may take an epoch or two to take hold)."""
    persistent = set(persistent)
    lines = [
        f"no finding {k} after epoch {epochs - 1}" if k in persistent and epochs > 1 else f"no finding {k}"
        for k in sorted(kinds)
    ]
    if metric is not None and threshold is not None and math.isfinite(threshold):
        op = "<=" if lower_is_better(metric) else ">="
        lines.append(f"final.{metric} {op} {threshold:.4g}")
    lines.append("status == ok")
    return lines


def reference_threshold(values: list[float | None], metric: str, tolerance: float) -> float | None:
    """The reference runs' mean of ``metric``, loosened by ``tolerance`` of its magnitude."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    mean = sum(finite) / len(finite)
    slack = tolerance * abs(mean)
    return mean + slack if lower_is_better(metric) else mean - slack


@dataclass
class ArmVerdict:
    candidate: Candidate
    variant: str
    phase: str
    passed_runs: int
    runs: int
    cured: bool | None  # None: n/a (a plugin it switches on never acted)
    acted: bool
    metric: dict[str, Any]
    remaining: list[str]
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.candidate.as_dict(),
            "variant": self.variant,
            "phase": self.phase,
            "passed_runs": self.passed_runs,
            "runs": self.runs,
            "cured": self.cured,
            "acted": self.acted,
            "metric": self.metric,
            "remaining_kinds": self.remaining,
            "why": self.why,
        }


def judge(
    candidate: Candidate,
    variant: str,
    phase: str,
    records: list[RunRecord],
    metric: str | None,
    original: Iterable[str],
    rule: PassRate | None,
    persistent: Iterable[str] = (),
) -> ArmVerdict:
    """The verdict of one arm from its runs' records (expectations already evaluated).

    ``remaining``: the original kinds the arm still shows as the criterion counts them (a
    ``persistent`` one only in a run's last epoch, any other anywhere)."""
    from harness.experiments.arms import acted_in
    from harness.judging.verdicts import final_value, mean_std, run_ok

    passed = [run_ok(r) for r in records]
    acted = all(acted_in(r.get("trace") or {}, p) for r in records for p in candidate.plugins) and bool(records)
    if rule is not None:
        cured: bool | None = bool(records) and rule.holds(sum(passed), len(passed))
    else:
        cured = bool(records) and all(passed)
    why = ""
    if not acted:
        silent = sorted({p for r in records for p in candidate.plugins if not acted_in(r.get("trace") or {}, p)})
        why = f"{', '.join(silent)} never acted in some run: this arm does not measure it"
        cured = None
    original, persistent = set(original), set(persistent)
    remaining = sorted(
        {
            f["kind"]
            for r in records
            for f in r.get("findings", [])
            if f["kind"] in original
            and (
                f["kind"] not in persistent
                or f["epoch"] >= max((h.get("epoch", 0) for h in r.get("history", [])), default=0)
            )
        }
    )
    stats = mean_std([final_value(r, metric) for r in records]) if metric else {}
    return ArmVerdict(candidate, variant, phase, sum(passed), len(passed), cured, acted, stats, remaining, why)


def best_cure(verdicts: list[ArmVerdict]) -> ArmVerdict | None:
    """The proven fix: cured, then the highest pass rate, the fewest plugins, the best rank."""
    cured = [v for v in verdicts if v.cured]
    if not cured:
        return None
    return min(cured, key=lambda v: (-v.passed_runs / max(v.runs, 1), v.candidate.size, v.candidate.rank_key()))

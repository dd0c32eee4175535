"""Judging the doctor's arms: cured means the variant's findings gone and the main metric at the reference's level."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
        lines.append(f"final.{metric} {op} {_rounded_loosely(threshold, op == '<=')}")
    lines.append("status == ok")
    return lines


def _rounded_loosely(value: float, up: bool) -> str:
    """``value`` to 4 significant digits, rounded the way that keeps every value it bounds inside
    (0.231406 as an upper bound is 0.2315, not 0.2314: the reference's worst seed must pass)."""
    text = f"{value:.4g}"
    if (float(text) < value) if up else (float(text) > value):
        exponent = math.floor(math.log10(abs(value))) - 3 if value else 0
        step = 10.0**exponent
        text = f"{(math.ceil(value / step) if up else math.floor(value / step)) * step:.4g}"
    return text


def reference_threshold(values: list[float | None], metric: str, tolerance: float) -> float | None:
    """The reference runs' mean of ``metric``, loosened by ``tolerance`` of its magnitude, or to its
    worst seed where the seeds spread wider than that: every seed of the reference passes its own
    bar (on a script the reference at the range test's LR is also an arm, and must not fail it)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    mean = sum(finite) / len(finite)
    slack = tolerance * abs(mean)
    if lower_is_better(metric):
        return max(mean + slack, max(finite))
    return min(mean - slack, min(finite))


def reference_stats(
    records: list[RunRecord], metric: str | None, what: str, tolerance: float, seeds: int
) -> tuple[float | None, dict[str, Any], list[str]]:
    """The reference's cure threshold, its stats for the report (``doctor.reference``), and
    warnings when it is no clean run."""
    from harness.judging.verdicts import final_value, mean_std

    values = [final_value(r, metric) for r in records] if metric else []
    threshold = reference_threshold(values, metric, tolerance) if metric else None
    kinds = observed_kinds(records)
    warnings = []
    if kinds:
        warnings.append(
            "the reference has findings too: " + ", ".join(f"{k} ({n}/{seeds})" for k, n in sorted(kinds.items()))
        )
    if metric and threshold is None:
        warnings.append(f"the reference has no final {metric}: the cure criterion leaves the metric out")
    stats = mean_std(values) if metric else {}
    return (
        threshold,
        {
            "variant": records[0]["variant"] if records else "reference",
            "what": what,
            "values": values,
            "mean": stats.get("mean"),
            "std": stats.get("std"),
            "threshold": threshold,
            "kinds": dict(sorted(kinds.items())),
        },
        warnings,
    )


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
    new_kinds: list[str] = field(default_factory=list)  # kinds neither the variant nor the reference showed
    decided: int = 0  # runs stopped once the arm's verdict was decided (early decisions)
    skipped: int = 0  # seeds never run: the verdict was decided before them

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
            "new_kinds": self.new_kinds,
            "decided": self.decided,
            "skipped": self.skipped,
            "why": self.why,
        }


def _cured(records: list[RunRecord], ran: list[RunRecord], rule: PassRate | None) -> bool:
    """Every run (or the pass rate of them) passes; an arm decided early has the verdict it was decided with."""
    from harness.judging.decisions import group_verdict
    from harness.judging.verdicts import run_ok

    passed = [run_ok(r) for r in ran]
    cured = bool(ran) and (rule.holds(sum(passed), len(passed)) if rule is not None else all(passed))
    if len(ran) < len(records) or any(r.get("status") == "decided" for r in ran):
        decided, _ = group_verdict(records, rule=rule)
        cured = bool(decided) if decided is not None else cured
    return cured


def _kinds_left(records: list[RunRecord], original: set[str], persistent: set[str]) -> list[str]:
    """The original kinds an arm still shows as the criterion counts them (a ``persistent`` one
    only in a run's last epoch, any other anywhere)."""
    return sorted(
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


def judge(
    candidate: Candidate,
    variant: str,
    phase: str,
    records: list[RunRecord],
    metric: str | None,
    original: Iterable[str],
    rule: PassRate | None,
    persistent: Iterable[str] = (),
    reference_kinds: Iterable[str] | None = None,
) -> ArmVerdict:
    """The verdict of one arm from its runs' records (expectations already evaluated; runs
    stopped or skipped by early decisions count as decided, :mod:`harness.judging.decisions`).

    ``remaining``: the original kinds the arm still shows; ``new_kinds``: kinds it shows that
    neither the variant (``original``) nor the reference (``reference_kinds``) showed."""
    from harness.experiments.arms import acted_in
    from harness.judging.verdicts import final_value, mean_std, run_ok

    ran = [r for r in records if r.get("status") != "skipped"]
    cured: bool | None = _cured(records, ran, rule)
    acted = all(acted_in(r.get("trace") or {}, p) for r in ran for p in candidate.plugins) and bool(ran)
    why = ""
    if not acted:
        silent = sorted({p for r in ran for p in candidate.plugins if not acted_in(r.get("trace") or {}, p)})
        why = f"{', '.join(silent)} never acted in some run: this arm does not measure it"
        cured = None
    original = set(original)
    remaining = _kinds_left(ran, original, set(persistent))
    new = observed_kinds(ran).keys() - original - set(reference_kinds or ()) if reference_kinds is not None else set()
    finished = [r for r in ran if r.get("status") != "decided"]  # a run stopped early has no final value
    stats = mean_std([final_value(r, metric) for r in finished]) if metric else {}
    return ArmVerdict(
        candidate,
        variant,
        phase,
        sum(run_ok(r) for r in ran),
        len(records),
        cured,
        acted,
        stats,
        remaining,
        why,
        sorted(new),
        sum(r.get("status") == "decided" for r in ran),
        len(records) - len(ran),
    )


def best_cure(verdicts: list[ArmVerdict]) -> ArmVerdict | None:
    """The proven fix: cured, then the highest pass rate, the fewest plugins, the best rank."""
    cured = [v for v in verdicts if v.cured]
    if not cured:
        return None
    return min(cured, key=lambda v: (-v.passed_runs / max(v.runs, 1), v.candidate.size, v.candidate.rank_key()))


def _without(combo: Candidate, part: Candidate) -> Candidate:
    """``combo`` less one of its parts: the other single, or the smaller combination."""
    from harness.experiments.doctor_candidates import combinations_of

    rest = [p for p in combo.parts if p is not part]
    if len(rest) == 1:
        return rest[0]
    (smaller,) = [c for c in combinations_of(rest, len(rest), len(rest)) if len(c.parts) == len(rest)]
    return smaller


def minimise(
    best: ArmVerdict, verdicts: list[ArmVerdict], try_arms: Callable[[list[Candidate]], list[ArmVerdict]]
) -> dict[str, Any]:
    """Drop each part of a proven combination in turn: the arm without it (``try_arms`` runs those
    not in ``verdicts`` yet, and they are appended to it); a part stays only when the cure needs
    it. Returns ``{"of", "minimal" (the arm's name), "checks": [{"of", "without", "arm", "cured"}]}``."""
    checks: list[dict[str, Any]] = []
    current = best
    while len(current.candidate.parts) > 1:
        rests = {part.name: _without(current.candidate, part) for part in current.candidate.parts}
        known = {v.candidate.name for v in verdicts}
        missing = [c for c in rests.values() if c.name not in known]
        if missing:
            verdicts += try_arms(missing)
        tried = {v.candidate.name: v for v in verdicts}
        checks += [
            {"of": current.candidate.name, "without": p, "arm": c.name, "cured": tried[c.name].cured}
            for p, c in rests.items()
        ]
        smaller = next((tried[c.name] for c in rests.values() if tried[c.name].cured), None)
        if smaller is None:
            break
        current = smaller
    return {"of": best.candidate.name, "minimal": current.candidate.name, "checks": checks}


def first_section(doctor: Any, baseline: Any, lines: list[str], given: bool, tolerance: float) -> dict[str, Any]:
    """The report's ``doctor`` section after phase 1 (no candidate tried yet)."""
    from harness.core.diagnosis import declared_causes, rank_causes
    from harness.core.findings import structural_kinds
    from harness.experiments.doctor_candidates import Candidate

    rule, metric, variant = doctor.rule, doctor.metric, doctor.variant
    base = judge(Candidate({}, label=variant), variant, "base", baseline.records, metric, baseline.kinds, rule)
    return {
        "variant": variant,
        "seeds": list(doctor.seeds),
        "observed": dict(sorted(baseline.kinds.items())),
        "diagnosis": rank_causes(
            baseline.kinds, declared_causes(doctor.available), baseline.records, structural_kinds(doctor.available)
        ),
        "metric": metric,
        "lower_is_better": lower_is_better(metric) if metric else None,
        "reference": baseline.reference,
        "tolerance": tolerance,
        "criterion": lines,
        "criterion_given": given,
        "watched_kinds": [],
        "pass_rate": rule.text if rule else None,
        "lr_range": None,
        "candidates": [],
        "minimal": None,
        "warnings": doctor.warnings,
        "best": None,
        "fixed_yaml": None,
        "base": {
            "variant": variant,
            "passed_own_expectations": base.passed_runs,
            "runs": base.runs,
            "metric": base.metric,
        },
    }

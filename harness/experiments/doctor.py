"""Doctor: from a broken run to a proven fix, without being told the fix.

``harness doctor SCENARIO --variant NAME`` runs the variant (the incident), collects its
findings, and proposes fixes for them: every installed fix plugin declares which finding
kinds it ``addresses`` and which parameter sets to try (``suggestions``). A candidate is
one suggestion of one fix applied to the variant:

    a plugin the variant does not have            switched on with the suggestion
    a plugin the variant has, set differently     re-parameterised (``interval: epoch -> step``)
    a plugin that competes for a slot             the variant's occupant of the slot switched off
                                                  (``make_optimizer``: ``bug_foreign_optimizer``
                                                  -> ``optimizer``), as ``harness ablate`` does

Candidates are ranked by how many of the observed kinds they address (then: re-parameterising
what the variant already has first, then how often those kinds were seen, then name). The
doctor runs, over the same seeds,

    phase 1   the variant as it is, and the *reference*, a clean run of the same workload and
              training config: the variant without its ``bug`` plugins when it has any,
              else plain training (every fix off: the core and the monitors)
    phase 2   the variant + each single candidate
    phase 3   only when no single candidate cures: the variant + each combination of up to
              ``max_combination`` of the ``top`` ranked candidates (compatible ones only)

and judges every arm by one *cure criterion*: by default, per run, no finding of the kinds
the variant showed (a kind it still showed in its last epoch only has to be gone by the last
epoch: a cure may take an epoch to take hold), the workload's main metric (its first key
metric) at least as good as the reference's mean (within ``tolerance``, 5% of it by
default: about the seed-to-seed spread of F1 at replay scale), and status ``ok``; or the
expectations given with ``--expect``. An arm is cured when every seed passes (or, with a
pass rate, that share of them), and it *measures* its candidate only when each plugin it
switches on acted in every run (the trace; otherwise its verdict is n/a, as in ablation).
The proven fix is the cured arm with the highest pass rate, then the fewest plugins, then
the best rank; it is printed as a ready-to-paste ``fixed:`` variant.

The planning (:func:`propose`, :func:`combinations_of`, :func:`cure_lines`,
:func:`phase_scenario`) and the judging (:func:`judge`) are plain functions of plain data;
:func:`diagnose` runs the phases through a ``runner(scenario, keys) -> records`` callable
(the CLI passes ``run_suite`` with its executor, ``-j`` and ``--resume``), so another
runner (an early-deciding one, :mod:`harness.judging.decisions`) can plan the same arms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.core.diagnosis import declared_causes, rank_causes
from harness.experiments.doctor_arms import (
    arm_name,
    candidate_settings,
    fixed_variant_yaml,
    phase_scenario,
    reference_settings,
)
from harness.experiments.doctor_candidates import Candidate, combinations_of, propose
from harness.experiments.doctor_verdicts import (
    ArmVerdict,
    best_cure,
    cure_lines,
    judge,
    lower_is_better,
    observed_kinds,
    persistent_kinds,
    reference_threshold,
)
from harness.scenario.expectations import PassRate

if TYPE_CHECKING:
    from harness.execution.records import RunRecord

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters as set (model_dump(exclude_unset=True))
Runner = Callable[[Any, list[Any]], "list[RunRecord]"]

REFERENCE = "reference"


@dataclass
class _Doctor:
    """One diagnosis: the variant, how it runs, and every arm and record its phases add."""

    scenario: Any
    variant: str
    seeds: list[int]
    runner: Runner
    rule: PassRate | None
    log: Callable[[str], None]
    available: Mapping[str, Any]
    arms: dict[str, tuple[Settings, list[Any], str]] = field(default_factory=dict)
    records: list[RunRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: Any = field(init=False)  # the variant
    settings: Settings = field(init=False)
    metric: str | None = field(init=False)  # the workload's main metric

    def __post_init__(self) -> None:
        self.source = self.scenario.variants[self.variant]
        # as set (exclude_unset): re-validating a full dump can fail (a None that "applies only to sgd")
        self.settings = {name: params.model_dump(exclude_unset=True) for name, params in self.source.plugins.items()}
        self.metric = next(iter(self.scenario.key_metrics), None)

    def parse(self, lines: list[str]) -> list[Any]:
        """Expectation lines over the scenario's metrics and the installed plugins' finding kinds."""
        from harness.scenario.expectations import parse_expectation

        metrics = tuple(self.scenario.metrics) + ("loss", "lr", "steps", "epoch")
        finding_kinds = tuple(sorted({k for info in self.available.values() for k in info.cls.finding_kinds}))
        return [parse_expectation(text, metrics=metrics, finding_kinds=finding_kinds) for text in lines]

    def run(self, phase_arms: dict[str, tuple[Settings, list[Any], str]]) -> dict[str, list[RunRecord]]:
        """Train one phase's arms over the seeds; each arm's records."""
        from harness.execution.runner import plan_runs

        self.arms.update(phase_arms)
        derived = phase_scenario(self.scenario, self.variant, phase_arms)
        records = self.runner(derived, plan_runs(derived, list(phase_arms), self.seeds))
        self.records.extend(records)
        return {name: [r for r in records if r["variant"] == name] for name in phase_arms}

    def outcome(self, section: dict[str, Any]) -> tuple[Any, list[RunRecord], dict[str, Any]]:
        return phase_scenario(self.scenario, self.variant, self.arms), self.records, section


@dataclass(frozen=True)
class _Baseline:
    """Phase 1: the variant's runs, the finding kinds they showed, and the reference's metric."""

    records: list[RunRecord]
    kinds: dict[str, int]
    threshold: float | None = None
    reference: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Cure:
    """What every candidate arm is judged by: the criterion and the kinds it must cure."""

    criterion: list[Any]
    kinds: dict[str, int]
    persistent: set[str]


def _phase_baseline(doctor: _Doctor, judge_metric: bool, tolerance: float) -> _Baseline:
    """Phase 1: the variant as it is and, when its metric is judged, the reference run."""
    reference, reference_what = reference_settings(doctor.available, doctor.settings)
    variant, metric = doctor.variant, doctor.metric
    phase1 = {variant: (doctor.settings, list(doctor.source.expectations), f"{variant} as it is")}
    use_reference = judge_metric and metric is not None and reference != doctor.settings
    if use_reference:
        phase1[REFERENCE] = (reference, [], f"the reference: {reference_what}")
    doctor.log(f"phase 1: {variant} and the reference, {len(doctor.seeds)} seed(s)")
    results = doctor.run(phase1)
    kinds = observed_kinds(results[variant])
    if use_reference:
        threshold, stats = _judge_reference(doctor, results[REFERENCE], reference_what, tolerance)
        return _Baseline(results[variant], kinds, threshold, stats)
    if judge_metric and metric is not None:
        doctor.warnings.append(f"{variant} has no fix or bug to switch off: no reference run, the metric is not judged")
    return _Baseline(results[variant], kinds)


def _judge_reference(
    doctor: _Doctor, records: list[RunRecord], what: str, tolerance: float
) -> tuple[float | None, dict[str, Any]]:
    """The reference's cure threshold and its stats for the report, warning when it is no clean run."""
    from harness.judging.verdicts import final_value

    metric = doctor.metric
    assert metric is not None
    values = [final_value(r, metric) for r in records]
    threshold = reference_threshold(values, metric, tolerance)
    ref_kinds = observed_kinds(records)
    if ref_kinds:
        doctor.warnings.append(
            f"the reference ({what}) has findings too: "
            + ", ".join(f"{k} ({n}/{len(doctor.seeds)})" for k, n in sorted(ref_kinds.items()))
        )
    if threshold is None:
        doctor.warnings.append(f"the reference has no final {metric}: the cure criterion leaves the metric out")
    return threshold, {"variant": REFERENCE, "what": what, "values": values, "threshold": threshold}


def _section(doctor: _Doctor, baseline: _Baseline, lines: list[str], given: bool, tolerance: float) -> dict[str, Any]:
    """The report's ``doctor`` section after phase 1 (no candidate tried yet)."""
    rule, metric, variant = doctor.rule, doctor.metric, doctor.variant
    section: dict[str, Any] = {
        "variant": variant,
        "seeds": list(doctor.seeds),
        "observed": dict(sorted(baseline.kinds.items())),
        "metric": metric,
        "lower_is_better": lower_is_better(metric) if metric else None,
        "reference": baseline.reference,
        "tolerance": tolerance,
        "criterion": lines,
        "criterion_given": given,
        "pass_rate": rule.text if rule else None,
        "candidates": [],
        "warnings": doctor.warnings,
        "best": None,
        "fixed_yaml": None,
    }
    base = judge(Candidate({}, label=variant), variant, "base", baseline.records, metric, baseline.kinds, rule)
    section["base"] = {
        "variant": variant,
        "passed_own_expectations": base.passed_runs,
        "runs": base.runs,
        "metric": base.metric,
    }
    return section


def _try_candidates(doctor: _Doctor, candidates: list[Candidate], phase: str, cure: _Cure) -> list[ArmVerdict]:
    """Phase 2 (``single``) or 3 (``combination``): the variant + each candidate, judged by ``cure``."""
    variant = doctor.variant
    phase_arms = {
        arm_name(variant, c): (candidate_settings(doctor.settings, c), cure.criterion, f"{variant} + {c.describe()}")
        for c in candidates
    }
    doctor.log(
        f"phase {phase}: {len(phase_arms)} arm(s) x {len(doctor.seeds)} seed(s): {', '.join(c.name for c in candidates)}"
    )
    results = doctor.run(phase_arms)
    return [
        judge(
            c,
            arm_name(variant, c),
            phase,
            results[arm_name(variant, c)],
            doctor.metric,
            cure.kinds,
            doctor.rule,
            cure.persistent,
        )
        for c in candidates
    ]


def _try_cures(
    doctor: _Doctor, singles: list[Candidate], cure: _Cure, max_combination: int, top: int
) -> list[ArmVerdict]:
    """Every single candidate; then, when none cured, combinations of the top ones that acted."""
    verdicts = _try_candidates(doctor, singles, "single", cure)
    if not any(v.cured for v in verdicts) and max_combination >= 2:
        combos = combinations_of([v.candidate for v in verdicts if v.acted], top, max_combination)
        if combos:
            verdicts += _try_candidates(doctor, combos, "combination", cure)
    return verdicts


def diagnose(
    scenario: Any,
    variant: str,
    seeds: list[int],
    runner: Runner,
    *,
    expect: list[str] | None = None,
    rule: PassRate | None = None,
    tolerance: float = 0.05,
    max_candidates: int = 8,
    max_combination: int = 2,
    top: int = 4,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[Any, list[RunRecord], dict[str, Any]]:
    """Run the doctor's phases; returns ``(the scenario of every arm, every record, the section)``.

    :param runner: ``(scenario, keys) -> records`` in ``keys`` order (the CLI: ``run_suite``).
    :param expect: the cure criterion as expectation lines (default: :func:`cure_lines`).
    :raises harness.scenario.expectations.ExpectationSyntaxError: a bad ``expect`` line.
    """

    doctor = _Doctor(scenario, variant, list(seeds), runner, rule, log, scenario.catalogue)
    given = doctor.parse(expect) if expect else None  # bad lines fail before anything trains
    baseline = _phase_baseline(doctor, given is None, tolerance)
    persistent = persistent_kinds(baseline.records) if not expect else set()
    epochs = doctor.source.train.epochs
    lines = (
        list(expect) if expect else cure_lines(baseline.kinds, doctor.metric, baseline.threshold, persistent, epochs)
    )
    criterion = given if given is not None else doctor.parse(lines)
    section = _section(doctor, baseline, lines, bool(expect), tolerance)
    section["diagnosis"] = rank_causes(baseline.kinds, declared_causes(doctor.available), baseline.records)
    if not baseline.kinds and given is None:
        doctor.warnings.append(f"{variant} has no finding: nothing to cure (give the cure criterion with --expect)")
        return doctor.outcome(section)
    singles = propose(doctor.available, doctor.settings, baseline.kinds)[:max_candidates]
    if not singles:
        doctor.warnings.append("no installed fix addresses the findings " + ", ".join(sorted(baseline.kinds)))
        return doctor.outcome(section)
    cure = _Cure(criterion, baseline.kinds, persistent)
    verdicts = _try_cures(doctor, singles, cure, max_combination, top)
    section["candidates"] = [v.as_dict() for v in verdicts]
    best = best_cure(verdicts)
    if best is not None:
        section["best"] = best.as_dict()
        section["fixed_yaml"] = fixed_variant_yaml(
            scenario, variant, doctor.settings, doctor.available, best, lines, list(seeds)
        )
    return doctor.outcome(section)

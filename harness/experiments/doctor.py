"""Doctor: from a broken run to a proven fix, without being told the fix.

``harness doctor SCENARIO --variant NAME`` runs the variant (the incident), collects its
findings, and proposes fixes for them: every installed fix plugin declares which finding
kinds it ``addresses`` and which parameter sets to try (``suggestions``); for LR-type
findings (``lr_type`` kinds, :func:`harness.experiments.lr_range.lr_kinds`) the LR range test computes one more,
``lr_scale`` at the factor that brings the LR to the one it suggests. A candidate is one
suggestion of one fix applied to the variant:

    a plugin the variant does not have            switched on with the suggestion
    a plugin the variant has, set differently     re-parameterised (``interval: epoch -> step``)
    a plugin that competes for a slot             the variant's occupant of the slot switched off
                                                  (``make_optimizer``: ``bug_foreign_optimizer``
                                                  -> ``optimizer``), as ``harness ablate`` does

Candidates are ranked by the evidence for the cause that names them (supported first), then by
how many of the observed kinds they address (then: the range test's computed factor, re-parameterising
what the variant already has, how often those kinds were seen, name). The
doctor runs, over the same seeds (0..2 by default),

    phase 1   the variant as it is, and the *reference*, the best healthy run it can construct
              of the same workload and training config: the variant without its ``bug``
              plugins when it has any, else plain training (every fix off) at the LR the range
              test suggests (``lr_scale``)
    phase 2   the variant + each single candidate
    phase 3   only when no single candidate cures: the variant + each combination of up to
              ``max_combination`` of the ``top`` ranked candidates (compatible ones only)
    minimal   a proven combination less each of its parts, to keep only the parts it needs

and judges every arm by one *cure criterion*: by default, per run, no finding of the kinds
the variant showed (a kind it still showed in its last epoch only has to be gone by the last
epoch: a cure may take an epoch to take hold), no finding of a kind the reference did not
show either (a cure that trades one pathology for another is none), the workload's main
metric (its first key metric) at least the reference's mean (within ``tolerance``, 5% of it
by default), and status ``ok``; or the expectations given with ``--expect``. An arm is cured
when every seed passes (or, with a pass rate, that share of them); the arms of phases 2, 3 and
minimal run through the run plan of ``harness ablate`` (:mod:`harness.execution.run_plan`),
so a run stops at the epoch its arm's verdict is decided and a decided arm's other seeds are
skipped. An arm *measures* its candidate only when each plugin it switches on acted in every
run (the trace; otherwise its verdict is n/a, as in ablation). The proven fix is the cured arm
with the highest pass rate, then the fewest plugins, then the best rank; printed as a
ready-to-paste ``fixed:`` variant. Phase 1's findings are diagnosed too: each kind's causes
ranked by the evidence (:mod:`harness.core.diagnosis`).

Planning (:func:`propose`, :func:`cure_lines`, :func:`phase_scenario`) and judging
(:func:`judge`) are plain functions of plain data; :func:`diagnose` runs the phases through a
``runner(scenario, keys, **options) -> records`` (the CLI: ``run_suite``; candidate phases
pass ``decide=True, rule=...``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.core.diagnosis import declared_causes
from harness.experiments.doctor_arms import (
    arm_name,
    candidate_settings,
    fixed_variant_yaml,
    phase_scenario,
    reference_settings,
)
from harness.experiments.doctor_candidates import (
    Candidate,
    arm_on_scripts,
    combinations_of,
    computed_lr_candidate,
    evidence_of_fixes,
    propose,
    with_computed,
    with_evidence,
)
from harness.experiments.doctor_verdicts import (
    ArmVerdict,
    best_cure,
    cure_lines,
    first_section,
    judge,
    minimise,
    observed_kinds,
    persistent_kinds,
    reference_stats,
    reference_threshold,
)
from harness.experiments.lr_range import RangeTest, calls_for_range_test, lr_range_test
from harness.scenario.expectations import PassRate

if TYPE_CHECKING:
    from harness.execution.records import RunRecord

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters as set (model_dump(exclude_unset=True))
Runner = Callable[..., "list[RunRecord]"]

# the names the tests and the CLI use, re-exported from the doctor_* modules
__all__ = ["ArmVerdict", "Candidate", "candidate_settings", "combinations_of", "computed_lr_candidate"]
__all__ += ["cure_lines", "default_seeds", "diagnose", "fixed_variant_yaml", "judge", "minimise"]
__all__ += ["persistent_kinds", "propose", "reference_settings", "reference_threshold", "with_computed"]
REFERENCE = "reference"
#: seeds the doctor proves a fix on when neither --seed/--seeds nor the scenario (3 or more) say
DEFAULT_SEEDS = (0, 1, 2)


def default_seeds(scenario_seeds: list[int]) -> list[int]:
    """The scenario's seeds when it lists 3 or more, else 0..2: one seed proves nothing."""
    return list(scenario_seeds) if len(scenario_seeds) >= len(DEFAULT_SEEDS) else list(DEFAULT_SEEDS)


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
    range_test: RangeTest | None = None
    source: Any = field(init=False)  # the variant
    settings: Settings = field(init=False)
    metric: str | None = field(init=False)  # the workload's main metric

    def __post_init__(self) -> None:
        self.source = self.scenario.variants[self.variant]
        if self.is_script:  # the arms on a program: the fixes the watcher applies from outside
            self.available = {n: i for n, i in self.available.items() if arm_on_scripts(i)}
        # as set (exclude_unset): re-validating a full dump can fail (a None that "applies only to sgd")
        self.settings = {name: params.model_dump(exclude_unset=True) for name, params in self.source.plugins.items()}
        self.metric = next(iter(self.scenario.key_metrics), None)

    @property
    def is_script(self) -> bool:
        return self.source.script is not None

    @property
    def has_bugs(self) -> bool:
        return any(self.available[p].kind == "bug" for p in self.settings if p in self.available)

    def monitor_kinds(self) -> set[str]:
        """The finding kinds the variant's monitors may emit."""
        return {
            k
            for p in self.settings
            if p in self.available and self.available[p].kind == "monitor"
            for k in self.available[p].cls.finding_kinds
        }

    def parse(self, lines: list[str]) -> list[Any]:
        """Expectation lines over the scenario's metrics and the installed plugins' finding kinds."""
        from harness.scenario.expectations import parse_expectation

        metrics = tuple(self.scenario.metrics) + ("loss", "lr", "steps", "epoch")
        finding_kinds = tuple(sorted({k for info in self.available.values() for k in info.cls.finding_kinds}))
        return [parse_expectation(text, metrics=metrics, finding_kinds=finding_kinds) for text in lines]

    def lr_range(self) -> RangeTest:
        """The LR range test of the variant (once, on its first seed)."""
        if self.range_test is None:
            self.log("LR range test (an exponential LR sweep on a fresh model)")
            test = lr_range_test(self.scenario, self.variant, self.seeds[0])
            if test.error:
                self.warnings.append(f"the LR range test failed: {test.error}")
            elif test.suggested_lr is None:
                self.warnings.append(f"the LR range test suggests nothing ({test.stopped} after {test.steps} steps)")
            else:
                self.log(f"LR range test: lr {test.current_lr:.3g} -> suggested {test.suggested_lr:.3g}")
            self.range_test = test
        return self.range_test

    def run(
        self, phase_arms: dict[str, tuple[Settings, list[Any], str]], decide: bool = False
    ) -> dict[str, list[RunRecord]]:
        """Train one phase's arms over the seeds (deciding early: ``decide``); each arm's records."""
        from harness.execution.runner import plan_runs

        self.arms.update(phase_arms)
        derived = phase_scenario(self.scenario, self.variant, phase_arms)
        keys = plan_runs(derived, list(phase_arms), self.seeds)
        records = self.runner(derived, keys, decide=True, rule=self.rule) if decide else self.runner(derived, keys)
        self.records.extend(records)
        return {name: [r for r in records if r["variant"] == name] for name in phase_arms}

    def outcome(self, section: dict[str, Any]) -> tuple[Any, list[RunRecord], dict[str, Any]]:
        if self.is_script:  # the cure as an edit at the program's line (harness.experiments.doctor_edits)
            from harness.experiments.doctor_edits import edits

            own = [r for r in self.records if r["variant"] == self.variant]
            section["edits"] = edits(section, own, self.available)
        return phase_scenario(self.scenario, self.variant, self.arms), self.records, section


@dataclass(frozen=True)
class _Baseline:
    """Phase 1: the variant's runs, the finding kinds they showed, and the reference."""

    records: list[RunRecord]
    kinds: dict[str, int]
    threshold: float | None = None
    reference: dict[str, Any] | None = None
    reference_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Cure:
    """What every candidate arm is judged by: the criterion, the kinds it must cure, and the
    reference's (any other kind is new)."""

    criterion: list[Any]
    kinds: dict[str, int]
    persistent: set[str]
    reference_kinds: frozenset[str] | None = None


def _reference(doctor: _Doctor) -> tuple[Settings, str]:
    """The reference's settings and what it is (:func:`reference_settings`); without bugs to
    switch off, plain training at the range test's LR."""
    if doctor.has_bugs:
        return reference_settings(doctor.available, doctor.settings)
    test = doctor.lr_range()
    configured = test.current_lr if doctor.is_script else float(doctor.source.train.lr)  # a script sets its own
    return reference_settings(doctor.available, doctor.settings, test.suggested_lr, configured)


def _phase_baseline(doctor: _Doctor, judge_metric: bool, tolerance: float) -> _Baseline:
    """Phase 1: the variant as it is and, unless the criterion is given, the reference."""
    variant = doctor.variant
    phase1 = {variant: (doctor.settings, list(doctor.source.expectations), f"{variant} as it is")}
    reference, what = _reference(doctor) if judge_metric else (doctor.settings, "")
    own = reference == doctor.settings
    if judge_metric and own:
        what = f"{variant} itself: nothing to switch off and no LR from the range test"
        doctor.warnings.append(f"no healthy reference could be constructed: the reference is {what}")
    if judge_metric and not own:
        phase1[REFERENCE] = (reference, [], f"the reference: {what}")
    n = len(doctor.seeds)
    doctor.log(
        f"phase 1: {variant} and the reference ({what}), {n} seed(s)"
        if judge_metric
        else f"phase 1: {variant}, {n} seed(s)"
    )
    results = doctor.run(phase1)
    kinds = observed_kinds(results[variant])
    if not judge_metric:
        return _Baseline(results[variant], kinds)
    ref_records = results[variant] if own else results[REFERENCE]
    threshold, stats, warnings = reference_stats(ref_records, doctor.metric, what, tolerance, len(doctor.seeds))
    doctor.warnings += warnings
    return _Baseline(results[variant], kinds, threshold, stats, frozenset(observed_kinds(ref_records)))


def _try_candidates(doctor: _Doctor, candidates: list[Candidate], phase: str, cure: _Cure) -> list[ArmVerdict]:
    """Phase 2 (``single``), 3 (``combination``) or ``minimal``: the variant + each candidate,
    judged by ``cure``, deciding early."""
    variant = doctor.variant
    phase_arms = {
        arm_name(variant, c): (candidate_settings(doctor.settings, c), cure.criterion, f"{variant} + {c.describe()}")
        for c in candidates
    }
    title = {"single": "phase 2, single fixes", "combination": "phase 3, combinations"}.get(
        phase, "minimal: a part less"
    )
    doctor.log(
        f"{title}: {len(phase_arms)} arm(s) x {len(doctor.seeds)} seed(s): {', '.join(c.name for c in candidates)}"
    )
    results = doctor.run(phase_arms, decide=True)
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
            cure.reference_kinds,
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


def _criterion(
    doctor: _Doctor, baseline: _Baseline, expect: list[str] | None, given: list[Any] | None
) -> tuple[list[str], list[str], _Cure]:
    """The cure criterion's lines, the kinds watched as new (the reference did not show them), the cure."""
    persistent = persistent_kinds(baseline.records) if not expect else set()
    if expect:
        assert given is not None
        return list(expect), [], _Cure(given, baseline.kinds, persistent)  # no reference run: nothing is "new"
    epochs = doctor.source.train.epochs
    lines = cure_lines(baseline.kinds, doctor.metric, baseline.threshold, persistent, epochs)
    watched = sorted(doctor.monitor_kinds() - set(baseline.kinds) - baseline.reference_kinds)
    criterion = doctor.parse([*lines, *(f"no finding {k}" for k in watched)])
    return lines, watched, _Cure(criterion, baseline.kinds, persistent, baseline.reference_kinds)


def _singles(
    doctor: _Doctor, baseline: _Baseline, max_candidates: int, diagnosis: list[dict[str, Any]]
) -> list[Candidate]:
    """The single candidates: the installed fixes' suggestions and, for LR-type findings, ``lr_scale``
    at the range test's factor; ranked by the evidence for the causes that name them first."""
    statuses = {r.get("status") for r in baseline.records}
    computed = None
    if calls_for_range_test(baseline.kinds, statuses):
        test = doctor.lr_range()
        if test.suggested_lr is not None and test.current_lr:
            lr_scale = doctor.available.get("lr_scale")
            addresses = tuple(lr_scale.cls.addresses) if lr_scale is not None else ()
            computed = computed_lr_candidate(
                doctor.settings, baseline.kinds, test.suggested_lr / test.current_lr, addresses
            )
    evidence = evidence_of_fixes(declared_causes(doctor.available), diagnosis)
    proposed = with_evidence(propose(doctor.available, doctor.settings, baseline.kinds), evidence)
    if computed is not None:
        computed = with_evidence([computed], evidence)[0]
    return with_computed(proposed, computed, max_candidates)


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

    :param runner: ``(scenario, keys, **options) -> records`` in ``keys`` order (the CLI: ``run_suite``).
    :param expect: the cure criterion as expectation lines (default: :func:`cure_lines`).
    :raises harness.scenario.expectations.ExpectationSyntaxError: a bad ``expect`` line.
    """
    doctor = _Doctor(scenario, variant, list(seeds), runner, rule, log, scenario.catalogue)
    given = doctor.parse(expect) if expect else None  # bad lines fail before anything trains
    baseline = _phase_baseline(doctor, given is None, tolerance)
    lines, watched, cure = _criterion(doctor, baseline, expect, given)
    section = first_section(doctor, baseline, lines, bool(expect), tolerance)
    section["watched_kinds"] = watched
    if not baseline.kinds and given is None:
        doctor.warnings.append(f"{variant} has no finding: nothing to cure (give the cure criterion with --expect)")
        return doctor.outcome(section)
    singles = _singles(doctor, baseline, max_candidates, section["diagnosis"])
    section["lr_range"] = doctor.range_test.as_dict() if doctor.range_test is not None else None
    if not singles:
        doctor.warnings.append("no installed fix addresses the findings " + ", ".join(sorted(baseline.kinds)))
        return doctor.outcome(section)
    verdicts = _try_cures(doctor, singles, cure, max_combination, top)
    best = best_cure(verdicts)
    if best is not None and len(best.candidate.parts) > 1:
        section["minimal"] = minimise(best, verdicts, lambda arms: _try_candidates(doctor, arms, "minimal", cure))
        best = next(v for v in verdicts if v.candidate.name == section["minimal"]["minimal"])
    section["candidates"] = [v.as_dict() for v in verdicts]
    if best is not None:
        section["best"] = best.as_dict()
        section["fixed_yaml"] = fixed_variant_yaml(
            scenario, variant, doctor.settings, doctor.available, best, lines, list(seeds)
        )
    return doctor.outcome(section)

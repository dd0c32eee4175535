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
runner (an early-deciding one, :mod:`harness.decisions`) can plan the same arms.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harness.ablation import yaml_scalar
from harness.expectations import PassRate

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters as set (model_dump(exclude_unset=True))
Runner = Callable[[Any, list[Any]], list[dict[str, Any]]]

#: words that make a metric lower-is-better (``loss``, ``val_loss``, ``mse``, ...)
LOWER_IS_BETTER = frozenset({"loss", "error", "mse", "mae", "rmse", "nll", "perplexity"})
REFERENCE = "reference"


def lower_is_better(metric: str) -> bool:
    return any(word in LOWER_IS_BETTER for word in metric.lower().split("_"))


@dataclass(frozen=True)
class Candidate:
    """One proposed fix (or a combination): the plugins it sets and the occupants it switches off.

    :param plugins: fix plugin -> the parameters it is given in the arm (as a YAML would set them).
    :param replaced: plugins of the variant switched off (they compete for a slot with one of ``plugins``).
    :param addresses: the observed finding kinds it addresses.
    :param changes: ``{plugin: "off -> on" | "interval: epoch -> step"}``, for the report.
    """

    plugins: Settings
    replaced: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    changes: dict[str, str] = field(default_factory=dict)
    reparameterises: bool = False
    occurrences: int = 0
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or "+".join(self.plugins)

    @property
    def size(self) -> int:
        return len(self.plugins)

    def rank_key(self) -> tuple[Any, ...]:
        return (-len(self.addresses), not self.reparameterises, -self.occurrences, self.name)

    def describe(self) -> str:
        parts = [f"{p} ({self.changes.get(p, 'on')})" for p in self.plugins]
        if self.replaced:
            parts.append("off: " + ", ".join(self.replaced))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugins": {k: dict(v) for k, v in self.plugins.items()},
            "replaced": list(self.replaced),
            "addresses": list(self.addresses),
            "changes": dict(self.changes),
            "description": self.describe(),
        }


def _defaults(cls: Any) -> dict[str, Any]:
    """A plugin's default parameters (empty when some have no default)."""
    try:
        return cls.Params().model_dump()
    except Exception:  # noqa: BLE001 - a required parameter
        return {}


def change_text(before: Mapping[str, Any] | None, after: Mapping[str, Any], given: Mapping[str, Any] | None = None) -> str:
    """``off -> on`` (``on: factor=0.01`` with the parameters ``given``), or the parameters that
    differ (``interval: epoch -> step``)."""
    if before is None:
        return "on: " + ", ".join(f"{k}={yaml_scalar(v)}" for k, v in given.items()) if given else "off -> on"
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return ", ".join(f"{k}: {yaml_scalar(before.get(k))} -> {yaml_scalar(after.get(k))}" for k in keys)


def observed_kinds(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Finding kind -> in how many of the runs it was recorded."""
    counts: Counter[str] = Counter()
    for record in records:
        counts.update({f["kind"] for f in record.get("findings", [])})
    return counts


def propose(
    available: Mapping[str, Any],
    settings: Settings,
    kinds: Mapping[str, int],
    slots: Callable[[Any, Any], frozenset[str]] | None = None,
) -> list[Candidate]:
    """Every single candidate for the observed ``kinds``, ranked (see the module docstring).

    :param available: plugin name -> info (``.kind``, ``.cls``): the installed plugins.
    :param settings: the variant's enabled plugins and their parameters.
    :param slots: ``(plugin class, params) -> slots`` (:func:`harness.pluginmanager.plugin_slots`).
    """
    from harness.pluginmanager import plugin_slots

    slots = slots or plugin_slots
    found: list[Candidate] = []
    for name, info in available.items():
        cls = info.cls
        if info.kind != "fix" or not cls.addresses:
            continue
        hit = tuple(k for k in cls.addresses if k in kinds)
        if not hit:
            continue
        suggestions = list(cls.suggestions) or [{}]
        for suggestion in suggestions:
            current = settings.get(name)  # as set (the YAML's keys), not every default
            given = {**(current or {}), **suggestion}
            params = cls.Params.model_validate(given)
            dumped = params.model_dump()
            before = cls.Params.model_validate(current).model_dump() if current is not None else None
            if before is not None and dumped == before:
                continue  # the variant already has exactly this: it did not cure
            replaced = []
            for other, other_params in settings.items():
                if other == name or other not in available or available[other].kind in ("core", "monitor"):
                    continue
                other_info = available[other]
                theirs = slots(other_info.cls, other_info.cls.Params.model_validate(other_params))
                if (slots(cls, params) & theirs) or other in cls.replaces or name in other_info.cls.replaces:
                    replaced.append(other)
            label = name if len(suggestions) == 1 else f"{name}({','.join(f'{k}={yaml_scalar(v)}' for k, v in suggestion.items())})"
            found.append(
                Candidate(
                    {name: given}, tuple(replaced), hit, {name: change_text(before, dumped, suggestion)},
                    reparameterises=current is not None, occurrences=sum(kinds[k] for k in hit), label=label,
                )
            )
    return sorted(found, key=Candidate.rank_key)


def combinations_of(candidates: list[Candidate], top: int, max_size: int) -> list[Candidate]:
    """Combinations of 2..``max_size`` of the ``top`` ranked candidates that can be on together
    (different plugins, none switching off another's plugin), ranked like single ones."""
    best = candidates[:top]
    combos: list[Candidate] = []
    for size in range(2, max_size + 1):
        for group in itertools.combinations(best, size):
            plugins = [p for c in group for p in c.plugins]
            replaced = [r for c in group for r in c.replaced]
            if len(set(plugins)) < len(plugins) or set(plugins) & set(replaced):
                continue
            merged: Settings = {p: v for c in group for p, v in c.plugins.items()}
            combos.append(
                Candidate(
                    merged,
                    tuple(dict.fromkeys(replaced)),
                    tuple(dict.fromkeys(k for c in group for k in c.addresses)),
                    {p: t for c in group for p, t in c.changes.items()},
                    reparameterises=any(c.reparameterises for c in group),
                    occurrences=sum(c.occurrences for c in group),
                    label="+".join(c.name for c in group),
                )
            )
    return sorted(combos, key=Candidate.rank_key)


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


def arm_name(variant: str, candidate: Candidate) -> str:
    return f"{variant}+{candidate.name}"


def phase_scenario(scenario: Any, variant: str, arms: dict[str, tuple[Settings, list[Any], str]]) -> Any:
    """A copy of ``scenario`` whose variants are ``arms``: name -> (plugin settings, expectations,
    description), each with ``variant``'s train config; plugins validated like the YAML's."""
    from harness.params import resolve_params
    from harness.pluginmanager import discover_plugins, resolve_conflicts
    from harness.scenario import Variant

    available = discover_plugins(scenario.plugin_modules)
    source = scenario.variants[variant]
    variants = {}
    for name, (settings, expectations, description) in arms.items():
        plugins = resolve_params(available, settings)
        resolve_conflicts(available, plugins)  # an arm that could not run is a planning bug: fail loudly
        variants[name] = Variant(name, description, plugins, source.train, list(expectations))
    return replace(scenario, variants=variants)


def candidate_settings(settings: Settings, candidate: Candidate) -> Settings:
    out = {p: v for p, v in settings.items() if p not in candidate.replaced}
    out.update({p: dict(v) for p, v in candidate.plugins.items()})
    return out


def reference_settings(available: Mapping[str, Any], settings: Settings) -> tuple[Settings, str]:
    """The clean run to compare with, and what it is: the variant less its ``bug`` plugins when it
    has any (the same recipe, without the injected mistake); otherwise plain training, the
    variant less every fix (the core and the monitors as it sets them)."""
    kind = {p: available[p].kind for p in settings if p in available}
    if any(k == "bug" for k in kind.values()):
        return {p: v for p, v in settings.items() if kind.get(p) != "bug"}, "the variant without its bug plugins"
    return {p: v for p, v in settings.items() if kind.get(p) in ("core", "monitor")}, "plain training: every fix off"


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
    candidate: Candidate, variant: str, phase: str, records: list[dict[str, Any]], metric: str | None,
    original: Iterable[str], rule: PassRate | None, persistent: Iterable[str] = (),
) -> ArmVerdict:
    """The verdict of one arm from its runs' records (expectations already evaluated).

    ``remaining``: the original kinds the arm still shows as the criterion counts them (a
    ``persistent`` one only in a run's last epoch, any other anywhere)."""
    from harness.ablation import acted_in
    from harness.verdicts import final_value, mean_std, run_ok

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
            and (f["kind"] not in persistent or f["epoch"] >= max((h.get("epoch", 0) for h in r.get("history", [])), default=0))
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


def _flow(value: Any) -> str:
    """A YAML value on one line (``true``, ``{interval: step}``, ``'a: b'``)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def fixed_variant_yaml(
    scenario: Any, variant: str, settings: Settings, available: Mapping[str, Any], verdict: ArmVerdict,
    expectations: list[str], seeds: list[int],
) -> str:
    """A ready-to-paste ``fixed:`` variant (indented to sit under ``variants:``): the variant's own
    fixes and bugs as it sets them, the cure, the occupants it replaces ``false``, the variant's
    ``train:`` overrides and the cure criterion as its expectations. Plugins the scenario's
    top-level ``plugins:`` already sets the same way are left out."""
    candidate = verdict.candidate
    raw = scenario.raw or {}
    raw_variant = (raw.get("variants") or {}).get(variant) or {}
    top = raw.get("plugins") or {}
    plugins: dict[str, Any] = {}
    for name, params in candidate_settings(settings, candidate).items():
        info = available.get(name)
        if info is None or info.kind in ("core", "monitor"):
            continue
        own = (raw_variant.get("plugins") or {}).get(name)
        if name in candidate.plugins:
            plugins[name] = dict(params) or True
        elif own is not None and own is not False:
            plugins[name] = own
        elif name not in top:  # enabled some other way (--with, --set)
            plugins[name] = dict(params) or True
    for name in candidate.replaced:
        plugins[name] = False
    lines = [
        "  fixed:",
        f"    description: {_flow(f'{variant} + {candidate.name}, proven by harness doctor ({verdict.passed_runs}/{verdict.runs} seeds)')}",
        "    plugins:" if plugins else "    plugins: {}",
    ]
    lines += [f"      {name}: {_flow(value)}" for name, value in plugins.items()]
    if raw_variant.get("train"):
        lines.append(f"    train: {_flow(raw_variant['train'])}")
    lines.append("    expect:")
    lines += [f"      - {_flow(line)}" for line in expectations]
    return "\n".join(lines)


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
    records: list[dict[str, Any]] = field(default_factory=list)
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
        from harness.expectations import parse_expectation

        metrics = tuple(self.scenario.metrics) + ("loss", "lr", "steps", "epoch")
        finding_kinds = tuple(sorted({k for info in self.available.values() for k in info.cls.finding_kinds}))
        return [parse_expectation(text, metrics=metrics, finding_kinds=finding_kinds) for text in lines]

    def run(self, phase_arms: dict[str, tuple[Settings, list[Any], str]]) -> dict[str, list[dict[str, Any]]]:
        """Train one phase's arms over the seeds; each arm's records."""
        from harness.runner import plan_runs

        self.arms.update(phase_arms)
        derived = phase_scenario(self.scenario, self.variant, phase_arms)
        records = self.runner(derived, plan_runs(derived, list(phase_arms), self.seeds))
        self.records.extend(records)
        return {name: [r for r in records if r["variant"] == name] for name in phase_arms}

    def outcome(self, section: dict[str, Any]) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        return phase_scenario(self.scenario, self.variant, self.arms), self.records, section


@dataclass(frozen=True)
class _Baseline:
    """Phase 1: the variant's runs, the finding kinds they showed, and the reference's metric."""

    records: list[dict[str, Any]]
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
    doctor: _Doctor, records: list[dict[str, Any]], what: str, tolerance: float
) -> tuple[float | None, dict[str, Any]]:
    """The reference's cure threshold and its stats for the report, warning when it is no clean run."""
    from harness.verdicts import final_value

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
    section["base"] = {"variant": variant, "passed_own_expectations": base.passed_runs, "runs": base.runs, "metric": base.metric}
    return section


def _try_candidates(doctor: _Doctor, candidates: list[Candidate], phase: str, cure: _Cure) -> list[ArmVerdict]:
    """Phase 2 (``single``) or 3 (``combination``): the variant + each candidate, judged by ``cure``."""
    variant = doctor.variant
    phase_arms = {
        arm_name(variant, c): (candidate_settings(doctor.settings, c), cure.criterion, f"{variant} + {c.describe()}")
        for c in candidates
    }
    doctor.log(f"phase {phase}: {len(phase_arms)} arm(s) x {len(doctor.seeds)} seed(s): {', '.join(c.name for c in candidates)}")
    results = doctor.run(phase_arms)
    return [
        judge(c, arm_name(variant, c), phase, results[arm_name(variant, c)], doctor.metric, cure.kinds, doctor.rule, cure.persistent)
        for c in candidates
    ]


def _try_cures(doctor: _Doctor, singles: list[Candidate], cure: _Cure, max_combination: int, top: int) -> list[ArmVerdict]:
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
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Run the doctor's phases; returns ``(the scenario of every arm, every record, the section)``.

    :param runner: ``(scenario, keys) -> records`` in ``keys`` order (the CLI: ``run_suite``).
    :param expect: the cure criterion as expectation lines (default: :func:`cure_lines`).
    :raises harness.expectations.ExpectationSyntaxError: a bad ``expect`` line.
    """
    from harness.pluginmanager import discover_plugins

    doctor = _Doctor(scenario, variant, list(seeds), runner, rule, log, discover_plugins(scenario.plugin_modules))
    given = doctor.parse(expect) if expect else None  # bad lines fail before anything trains
    baseline = _phase_baseline(doctor, given is None, tolerance)
    persistent = persistent_kinds(baseline.records) if not expect else set()
    epochs = doctor.source.train.epochs
    lines = list(expect) if expect else cure_lines(baseline.kinds, doctor.metric, baseline.threshold, persistent, epochs)
    criterion = given if given is not None else doctor.parse(lines)
    section = _section(doctor, baseline, lines, bool(expect), tolerance)
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
        section["fixed_yaml"] = fixed_variant_yaml(scenario, variant, doctor.settings, doctor.available, best, lines, list(seeds))
    return doctor.outcome(section)

"""Early decisions while runs train: the DecisionMonitor that stops a run whose verdict is settled, and the RunPlan that skips seeds that cannot change a variant's verdict."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from harness.core.hookspecs import hookimpl
from harness.execution.records import DecidedInfo, RunRecord
from harness.judging.decisions import RunDecision, decide_run, decision_entries, group_verdict
from harness.scenario.expectations import Expectation, PassRate, parse_pass_rate


def compact_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a group verdict reads of a run: its seed, status and expectation entries."""
    keep = ("name", "passed", "open", "pass_rate", "implicit")
    return {
        "seed": record.get("seed"),
        "status": record.get("status"),
        "expectations": [{k: e[k] for k in keep if k in e} for e in record.get("expectations", [])],
    }


@dataclass(frozen=True)
class GroupContext:
    """What a run's :class:`DecisionMonitor` knows of its group when it starts: the group's
    earlier runs (:func:`compact_record`), how many runs come after it, and the rule."""

    group: str
    earlier: tuple[dict[str, Any], ...] = ()
    later: int = 0
    rule: str | None = None  # a PassRate text (``ablate --pass-rate``); None: the lines' own rates

    @property
    def pass_rate(self) -> PassRate | None:
        return parse_pass_rate(self.rule) if self.rule is not None else None

    def digest(self) -> str:
        blob = json.dumps([self.group, list(self.earlier), self.later, self.rule], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class DecisionMonitor:
    """Observer that stops a run at the end of the epoch where its group's verdict is decided.

    Registered like the progress observers (outside the trace). After each epoch's last
    hook (a ``wrapper`` of ``on_checkpoint``, or of ``on_epoch_end`` for a run without a
    directory: after every monitor recorded that epoch's findings) it decides the run's
    lines on what the state holds and, when the group's verdict (:func:`group_verdict`
    with this run's open lines and the runs after it unknown) no longer depends on the
    rest, calls ``state.request_stop``. It never stops the last epoch (the run ends
    anyway) nor a run another plugin already stops. :meth:`finish` then makes the record
    say so: status ``decided`` and ``record["decided"]``.
    """

    REASON = "decided: "

    def __init__(self, expectations: list[Expectation], torch_version: str, context: GroupContext) -> None:
        self.expectations = list(expectations)
        self.torch_version = torch_version
        self.context = context
        self.decision: DecidedInfo | None = None
        self.snapshot: RunDecision | None = None
        self.reason: str | None = None

    @hookimpl(wrapper=True)
    def on_epoch_end(self, state: Any) -> Any:
        result = yield
        if state.run_dir is None:
            self.decide(state)
        return result

    @hookimpl(wrapper=True)
    def on_checkpoint(self, state: Any) -> Any:
        result = yield
        self.decide(state)
        return result

    def decide(self, state: Any) -> None:
        hp = state.hparams
        if self.decision is not None or state.stop_requested or state.epoch >= hp.epochs:
            return
        run = {
            "status": "running",
            "history": state.history,
            "findings": [f.to_dict() for f in state.findings],
            "steps": state.step,
            "outcomes": dict(state.outcomes),
        }
        decision = decide_run(
            self.expectations, run, torch_version=self.torch_version, epochs=hp.epochs, total_steps=hp.total_steps
        )
        current = {"status": "running", "expectations": decision_entries(decision, self.expectations)}
        verdict, by = group_verdict(
            [*self.context.earlier, current],
            unknown_runs=self.context.later,
            rule=self.context.pass_rate,
            divergence_open=decision.divergence_open,
        )
        if verdict is None:
            return
        self.snapshot = decision
        decided: DecidedInfo = {
            "epoch": state.epoch,
            "verdict": verdict,  # the group's: cured / passed or not
            "by": by,
            "run_verdict": decision.verdict,
            "group": self.context.group,
            "seeds_before": [r["seed"] for r in self.context.earlier],
            "runs_after": self.context.later,
            "rule": self.context.rule,
            "context": self.context.digest(),
        }
        self.decision = decided
        self.reason = f"{self.REASON}{by}"
        state.request_stop(self.reason)

    def finish(self, record: RunRecord) -> RunRecord:
        """Turn the record of a run this monitor stopped into a ``decided`` one (else unchanged):
        its lines as they were decided at the stop, open ones marked ``open``."""
        if self.decision is None or self.snapshot is None:
            return record
        if record.get("status") != "stopped" or record.get("stop_reason") != self.reason:
            return record  # it ended otherwise (an error after the decision)
        record["status"] = "decided"
        record["decided"] = self.decision.copy()
        record["expectations"] = decision_entries(self.snapshot, self.expectations)
        return record


@dataclass
class Action:
    """What an executor does next: ``start`` a run (with its ``context`` when deciding early),
    or hand on the ``record`` of a run that is ``reuse``d (``--resume``) or ``skip``ped."""

    kind: str  # start | reuse | skip
    key: Any
    record: RunRecord | None = None
    context: GroupContext | None = None


@dataclass
class _Group:
    name: str
    keys: list[Any]
    next: int = 0
    in_flight: bool = False
    done: list[RunRecord] = field(default_factory=list)
    verdict: bool | None = None
    reason: str | None = None

    @property
    def open(self) -> bool:
        return self.next < len(self.keys) and not self.in_flight


class RunPlan:
    """The order a suite's runs start in, and the runs it leaves out; executors ask it
    what to do next (:meth:`next`) and tell it what finished (:meth:`finish`).

    Without ``decide``: every key in order, reusable results (``lookup``, for ``--resume``)
    first, as a suite always ran. With ``decide``: the keys are grouped by variant (an
    ablation arm is a variant) in seed order; the first seed of every group starts before
    any second seed, a group's next seed only once its earlier ones finished, each with a
    :class:`GroupContext` for its :class:`DecisionMonitor`; once a group's verdict is
    decided (:func:`group_verdict`) its remaining keys are skipped (status ``skipped``).
    Which runs are trained then depends on their results only, not on timing or ``-j``.

    :param lookup: key -> a reusable written record or None. A ``decided`` record is
        reused only when deciding, and only if it was decided knowing the same earlier runs.
    :param divergence_open: variant -> whether a divergence would fail it implicitly
        (:func:`harness.scenario.expectations.expects_divergence` false); default: False.
    :param skipped_record: ``(key, reason) -> record`` of a skipped run.
    """

    def __init__(
        self,
        keys: Iterable[Any],
        *,
        decide: bool = False,
        rule: PassRate | None = None,
        lookup: Callable[[Any], RunRecord | None] | None = None,
        divergence_open: Mapping[str, bool] | None = None,
        skipped_record: Callable[[Any, str], RunRecord] | None = None,
    ) -> None:
        self.keys = list(keys)
        self.decide = decide
        self.rule = rule
        self.lookup = lookup
        self.divergence_open = dict(divergence_open or {})
        self.skipped_record = skipped_record or _partial_skipped_record
        self._ready: list[Action] = []  # reuse and skip actions to hand out
        self._accounted = 0
        self._looked_up: dict[Any, RunRecord | None] = {}
        if not decide:
            self._queue = []
            for key in self.keys:
                existing = self._lookup(key)
                if existing is not None and existing.get("status") != "decided":
                    self._ready.append(Action("reuse", key, existing))
                else:
                    self._queue.append(key)
            return
        groups: dict[str, list[Any]] = {}
        for key in self.keys:
            groups.setdefault(key.variant, []).append(key)
        self.groups = {name: _Group(name, group_keys) for name, group_keys in groups.items()}

    @property
    def finished(self) -> bool:
        return self._accounted >= len(self.keys) and not self._ready

    def _lookup(self, key: Any) -> RunRecord | None:
        if self.lookup is None:
            return None
        if key not in self._looked_up:
            self._looked_up[key] = self.lookup(key)
        return self._looked_up[key]

    def context(self, group: _Group) -> GroupContext:
        return GroupContext(
            group.name,
            tuple(compact_record(r) for r in group.done),
            len(group.keys) - group.next - 1,
            self.rule.text if self.rule is not None else None,
        )

    def next(self, can_start: bool) -> Action | None:
        """The next action: a reuse or skip at any time, a ``start`` only when ``can_start``
        (a worker is free); None when nothing can be done until a run finishes."""
        if self._ready:
            self._accounted += 1
            return self._ready.pop(0)
        if not self.decide:
            if can_start and self._queue:
                self._accounted += 1
                return Action("start", self._queue.pop(0))
            return None
        candidates = sorted(
            (group.next, order, group) for order, group in enumerate(self.groups.values()) if group.open
        )
        for _, _, group in candidates:  # a reusable result needs no worker
            key, context = group.keys[group.next], self.context(group)
            existing = self._lookup(key)
            if existing is not None and self._reusable(existing, context):
                group.next += 1
                self._accounted += 1
                self._record(group, existing)
                return Action("reuse", key, existing)
        if can_start and candidates:
            group = candidates[0][2]
            key, context = group.keys[group.next], self.context(group)
            group.next += 1
            group.in_flight = True
            self._accounted += 1
            return Action("start", key, context=context)
        return None

    @staticmethod
    def _reusable(record: Mapping[str, Any], context: GroupContext) -> bool:
        if record.get("status") != "decided":
            return True
        return (record.get("decided") or {}).get("context") == context.digest()

    def finish(self, key: Any, record: RunRecord) -> None:
        """A started run finished with ``record``."""
        if not self.decide:
            return
        group = self.groups[key.variant]
        group.in_flight = False
        self._record(group, record)

    def _record(self, group: _Group, record: RunRecord) -> None:
        group.done.append(record)
        remaining = group.keys[group.next :]
        if not remaining:
            return
        verdict, reason = group_verdict(
            group.done,
            unknown_runs=len(remaining),
            rule=self.rule,
            divergence_open=self.divergence_open.get(group.name, False),
        )
        if verdict is None:
            return
        group.verdict, group.reason = verdict, reason
        seeds = [r.get("seed") for r in group.done]
        why = (
            f"the verdict of {group.name!r} ({'passes' if verdict else 'fails'}) was decided by seed(s) "
            f"{', '.join(map(str, seeds))}: {reason}"
        )
        for key in remaining:
            record = self.skipped_record(key, why)
            record["skipped"] = {"reason": why, "after_seeds": seeds, "verdict": verdict, "by": reason}
            self._ready.append(Action("skip", key, record))
        group.next = len(group.keys)


def _partial_skipped_record(key: Any, reason: str) -> RunRecord:
    """A plan's skipped record where no scenario is at hand to build a full one
    (:func:`harness.execution.records.skipped_record`): what a group verdict and the
    progress sinks read of it."""
    return cast(
        RunRecord,  # partial on purpose: no fingerprint, plugins or train config without a scenario
        {
            "variant": key.variant,
            "seed": key.seed,
            "status": "skipped",
            "skipped": {"reason": reason},
            "expectations": [],
        },
    )


def interleaved(keys: Iterable[Any]) -> list[Any]:
    """``keys`` in the order a deciding plan prefers them: the first seed of every variant,
    then every second seed, ... (variants in their first-seen order)."""
    groups: dict[str, list[Any]] = {}
    for key in keys:
        groups.setdefault(key.variant, []).append(key)
    width = max((len(g) for g in groups.values()), default=0)
    return [g[i] for i in range(width) for g in groups.values() if i < len(g)]

"""What every executor shares: the loop over a suite's run plan, and its progress events.

An executor runs a suite's (variant, seed) runs somewhere (:mod:`harness.execution.executor`: worker
processes on this machine; :mod:`harness.execution.ray_executor`: Ray tasks) and yields
``(key, record)`` as they finish. The loop is the same everywhere and lives here
(:meth:`Executor.run`): ask the :class:`harness.judging.decisions.RunPlan` what to do next, hand on
a reused (``--resume``) or skipped result at once, start a run while there is room, collect
the runs that finished, and tell the plan and the progress sink about each. A subclass
says only how a run starts, how finished runs are collected and how it stops what is
still running; the records of runs that left none come from
:func:`harness.execution.records.failed_record`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.core.hookspecs import hookimpl
from harness.execution.records import RunKey, RunRecord, skipped_record, torch_version
from harness.execution.results import reusable_result
from harness.execution.run_plan import Action, RunPlan
from harness.scenario.expectations import expects_divergence

if TYPE_CHECKING:
    from harness.core.state import TrainState
    from harness.scenario import Scenario
    from harness.scenario.expectations import PassRate


class ProgressSink(Protocol):
    """Where an executor reports progress: ``(key, event, value)`` with event ``start``,
    ``total`` (steps), ``advance`` (steps done), ``epoch`` (its metrics), ``done`` (the
    record; also of a skipped run) or ``resumed`` (a reused record)."""

    def __call__(self, key: RunKey, event: str, value: Any) -> None: ...


def no_progress(key: RunKey, event: str, value: Any) -> None:
    """A :class:`ProgressSink` that shows nothing."""


class ProgressObserver:
    """Observer plugin inside a worker or task: relays a run's progress to the suite's process
    (how: :meth:`send`, per executor)."""

    def send(self, *events: tuple[str, Any]) -> None:
        raise NotImplementedError

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        hp = state.hparams
        self.send(("total", hp.optimizer_steps_per_epoch * hp.epochs))


def suite_plan(
    scenario: Scenario,
    keys: list[RunKey],
    results_dir: Path,
    *,
    resume: bool = False,
    decide: bool = False,
    rule: PassRate | None = None,
) -> RunPlan:
    """The :class:`harness.judging.decisions.RunPlan` of a suite: which run starts next, which are reused
    (``resume``: a written result with this configuration's fingerprint) or skipped (``decide``)."""
    version = torch_version() if decide else ""
    return RunPlan(
        keys,
        decide=decide,
        rule=rule,
        lookup=(lambda key: reusable_result(results_dir, scenario, key)) if resume else None,
        divergence_open={
            name: not expects_divergence(variant.expectations, version) for name, variant in scenario.variants.items()
        }
        if decide
        else None,
        skipped_record=lambda key, reason: skipped_record(scenario, key, reason),
    )


class Executor:
    """Runs the keys of a suite as its plan says; :meth:`run` yields ``(key, record)`` as
    runs finish (in completion order).

    ``plan`` (:class:`harness.judging.decisions.RunPlan`, default: every key in order, ``resume``
    reusing written results) says which run starts next and which are reused or skipped.
    ``timeout``: per-run limit in seconds; ``device``: overrides every run's ``train.device``.
    """

    def __init__(
        self,
        scenario: Scenario,
        keys: list[RunKey],
        *,
        results_dir: Path,
        timeout: float | None = None,
        device: str | None = None,
        resume: bool = False,
        progress: ProgressSink = no_progress,
        plan: RunPlan | None = None,
    ) -> None:
        self.scenario, self.keys = scenario, keys
        self.results_dir = Path(results_dir)
        self.timeout, self.device, self.progress = timeout, device, progress
        self.plan = plan if plan is not None else suite_plan(scenario, keys, self.results_dir, resume=resume)

    # ------------------------------------------------------------------ what a subclass says

    def has_room(self) -> bool:
        """Whether another run may start now."""
        raise NotImplementedError

    def in_flight(self) -> int:
        """How many started runs have not finished."""
        raise NotImplementedError

    def open(self) -> None:
        """Prepare to start runs (called once, only when some run must start)."""

    def start(self, action: Action) -> None:
        """Start the run of ``action.key`` (``action.context``: its group, when deciding early)."""
        raise NotImplementedError

    def collect(self) -> Iterator[tuple[RunKey, RunRecord]]:
        """Wait a little; yield :meth:`finished` of every run that finished meanwhile."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop every run still in flight (interrupted: every written result is kept)."""

    # ------------------------------------------------------------------ the loop

    def run(self) -> Iterator[tuple[RunKey, RunRecord]]:
        yield from self._hand_on_ready(can_start=False)  # reused or skipped before any start
        if self.plan.finished:
            return
        try:
            self.open()
            while not self.plan.finished or self.in_flight():
                yield from self._hand_on_ready(can_start=True)
                if not self.in_flight():
                    if self.plan.finished:
                        break
                    raise RuntimeError("the run plan has nothing to start while no run is in flight")  # a plan bug
                yield from self.collect()
        finally:
            self.close()

    def _hand_on_ready(self, *, can_start: bool) -> Iterator[tuple[RunKey, RunRecord]]:
        """Start runs while there is room (``can_start``); hand on every reused or skipped one."""
        while (action := self.plan.next(can_start and self.has_room())) is not None:
            if action.kind == "start":
                self.start(action)
                continue
            assert action.record is not None  # reuse and skip actions carry their record
            self.progress(action.key, "resumed" if action.kind == "reuse" else "done", action.record)
            yield action.key, action.record

    def finished(self, key: RunKey, record: RunRecord) -> tuple[RunKey, RunRecord]:
        """A started run finished with ``record``: the plan and the progress sink learn it."""
        self.plan.finish(key, record)
        self.progress(key, "done", record)
        return key, record

"""The executor base: one loop over the run plan for every executor, and the record schema.

A fake executor that "trains" in-process shows the loop's contract without a worker:
reused results are handed on before anything starts, at most ``jobs`` runs are in flight,
every finished run reaches the plan and the progress sink, and ``close`` always runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.execution.executor_base import Executor
from harness.execution.records import RunKey, RunRecord, timeout_error
from harness.execution.run_plan import Action, RunPlan

KEYS = [RunKey("a", 0), RunKey("a", 1), RunKey("b", 0)]


class InProcess(Executor):
    def __init__(self, plan: RunPlan, jobs: int = 1) -> None:
        self.events: list[tuple[RunKey, str, Any]] = []
        super().__init__(
            None, KEYS, results_dir=Path("."), plan=plan, progress=lambda k, e, v: self.events.append((k, e, v))
        )  # type: ignore[arg-type]
        self.jobs, self.running, self.most, self.closed = jobs, [], 0, False

    def has_room(self) -> bool:
        return len(self.running) < self.jobs

    def in_flight(self) -> int:
        return len(self.running)

    def start(self, action: Action) -> None:
        self.running.append(action.key)
        self.most = max(self.most, len(self.running))

    def collect(self) -> Iterator[tuple[RunKey, RunRecord]]:
        key = self.running.pop(0)
        yield self.finished(key, {"variant": key.variant, "seed": key.seed, "status": "ok"})  # type: ignore[typeddict-item]

    def close(self) -> None:
        self.closed = True


def test_reused_results_come_first_then_runs_within_jobs() -> None:
    reused = {"variant": "a", "seed": 1, "status": "ok"}
    executor = InProcess(RunPlan(KEYS, lookup=lambda key: reused if key == RunKey("a", 1) else None), jobs=2)
    out = list(executor.run())
    assert [key for key, _ in out] == [RunKey("a", 1), RunKey("a", 0), RunKey("b", 0)]
    assert executor.events[0] == (RunKey("a", 1), "resumed", reused)
    assert [e for _, e, _ in executor.events[1:]] == ["done", "done"]
    assert executor.most == 2 and executor.closed


def test_a_fully_reused_suite_starts_nothing() -> None:
    executor = InProcess(RunPlan(KEYS, lookup=lambda key: {"variant": key.variant, "seed": key.seed}))
    assert len(list(executor.run())) == 3
    assert executor.most == 0 and not executor.closed  # never opened, nothing to close


def test_close_runs_when_the_consumer_stops_early() -> None:
    executor = InProcess(RunPlan(KEYS), jobs=2)
    runs = executor.run()
    next(runs)
    runs.close()  # Ctrl-C in the consumer: the generator's finally stops what is in flight
    assert executor.closed


def test_the_record_schema_lists_every_field_of_a_fresh_record() -> None:
    from harness.execution.records import _RunRecordFields, base_record
    from harness.scenario import load_scenario

    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "issue11.yaml")
    record = base_record(scenario, RunKey(next(iter(scenario.variants)), 0))
    assert list(record) == list(_RunRecordFields.__annotations__)
    assert set(RunRecord.__optional_keys__) == {
        "stop_reason",
        "diverged_at_step",
        "decided",
        "skipped",
        "error",
        "node",
        "exit",  # a script run's exit code
    }


@pytest.mark.parametrize("seconds", [4, 0.5])
def test_the_timeout_message_is_shared_by_both_executors(seconds: float) -> None:
    assert timeout_error(seconds) == {"message": f"run exceeded the per-run timeout of {seconds:g} s and was stopped"}

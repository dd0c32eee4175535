"""Running (variant, seed) runs as Ray tasks: on this machine or on a Ray cluster.

Same interface as :func:`harness.execution.executor.execute_local`: yields ``(key, record)`` as
runs finish, writes each record atomically to ``results/<variant>-seed<S>.json`` in the
results directory (on the machine running ``harness``) as soon as it arrives, and
relays progress events (``start``, ``total``, ``advance``, ``epoch``, ``done``,
``resumed``) for the progress bars. A run is the same call to
:func:`harness.execution.run_one.execute_run` as with the local executor, seeded from its key, so
records are identical (but for ``seconds`` and the ``node`` it ran on).

Resources per task (what Ray schedules on; tasks are placed with Ray's ``SPREAD``
strategy, so a suite's runs go over every node that has room, not first to the driver's):

* CPUs: ``train.threads`` when the variant sets it, else 1; the task runs torch with that
  many threads, so a node with N cores runs N one-thread runs at once;
* GPUs: 1 when the run trains on CUDA (``train.device: cuda`` or ``--device cuda``, or
  ``auto`` on a cluster that has GPUs), else 0; Ray then makes exactly that GPU
  visible to the task.

Where Ray runs: ``address=None`` connects to ``$RAY_ADDRESS`` when it is set (as inside
``ray job submit``), else starts a local Ray instance with this machine's cores (no
dashboard) and shuts it down at the end; ``address`` (``auto``, ``HOST:6379``,
``ray://HOST:10001``) connects to an existing cluster. Every node needs ``harness``,
its plugins and the workload's dependencies installed (same versions as the driver).

Where a run ran, and a lost node: every record gets ``node`` = ``{"id", "ip", "host",
"attempts"}`` (the Ray node that trained it, and how many times Ray started it; a run
restarted after losing its node also has ``"lost": [{"id", "ip", "host"}, ...]``, the
nodes of the attempts that died). When a node dies (preempted, its raylet killed, the
machine gone) Ray restarts the runs it was training on another node, up to ``retries``
times (``$HARNESS_RAY_RETRIES``, default :data:`DEFAULT_RETRIES`); a run restarts from
scratch and is seeded from its key, so its record is the same as without the loss. A run
that loses its node more often than that is recorded with status ``error``, its message
naming the node, and ``error.transient: true``: ``--resume`` runs it again (and reuses
every other written result). The progress queue lives on the driver's node, so losing
another node loses no progress events of the runs that go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.hookspecs import hookimpl
from harness.execution.executor_base import Executor, ProgressObserver
from harness.execution.ray_nodes import task_failure, this_node
from harness.execution.records import NodeInfo, RunKey, RunRecord, failed_record, timeout_error
from harness.execution.results import save_result
from harness.execution.run_one import execute_run

if TYPE_CHECKING:
    from harness.core.state import TrainState
    from harness.execution.run_plan import Action, GroupContext
    from harness.scenario import Scenario

#: restarts of a run whose node (or worker process) died, when ``$HARNESS_RAY_RETRIES`` is unset
DEFAULT_RETRIES = 2
RETRIES_ENV = "HARNESS_RAY_RETRIES"


class QueueProgress(ProgressObserver):
    """Observer plugin inside a Ray task: sends progress events to the driver's queue.

    Events are sent once at the start and once per epoch (a queue put is a remote call;
    per-step sends would cost a round trip every step).
    """

    def __init__(self, queue: Any, key: RunKey) -> None:
        self.queue, self.key = queue, key
        self.steps_sent = 0

    def send(self, *events: tuple[str, Any]) -> None:
        with contextlib.suppress(Exception):  # progress is best effort; training goes on
            self.queue.put_nowait_batch([(self.key, event, value) for event, value in events])

    @hookimpl(trylast=True)
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        advance, self.steps_sent = state.step - self.steps_sent, state.step
        self.send(("advance", advance), ("epoch", dict(metrics)))


def run_task(
    scenario: Scenario,
    key: RunKey,
    results_dir: str,
    device: str | None,
    threads: int,
    queue: Any,
    decide: GroupContext | None = None,
) -> RunRecord:
    """The body of one Ray task: train ``key`` in this worker and return its record."""
    import torch

    node = this_node()
    if queue is not None:  # the driver learns where the run is before it trains (a lost node is named)
        with contextlib.suppress(Exception):
            queue.put_nowait((key, "start", node))
    if not scenario.variants[key.variant].train.threads:
        torch.set_num_threads(threads)
    observers = (QueueProgress(queue, key),) if queue is not None else ()
    record = execute_run(scenario, key, work_dir=Path(results_dir), device=device, observers=observers, decide=decide)
    record["node"] = node
    return record


def retries_from_env() -> int:
    """``$HARNESS_RAY_RETRIES`` (a count >= 0), else :data:`DEFAULT_RETRIES`."""
    text = os.environ.get(RETRIES_ENV, "").strip()
    if not text:
        return DEFAULT_RETRIES
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"${RETRIES_ENV}={text!r}: expected a whole number >= 0")
    return value


def wants_gpu(train_device: str, override: str | None, cluster_has_gpu: bool) -> bool:
    """Whether a run asks Ray for a GPU: it trains on CUDA (``auto``: when the cluster has one)."""
    device = override or train_device
    return device == "cuda" or (device == "auto" and cluster_has_gpu)


def task_resources(scenario: Scenario, key: RunKey, device: str | None, cluster_has_gpu: bool) -> dict[str, Any]:
    """``num_cpus`` and ``num_gpus`` of the Ray task of ``key``."""
    train = scenario.variants[key.variant].train
    return {"num_cpus": train.threads or 1, "num_gpus": 1 if wants_gpu(train.device, device, cluster_has_gpu) else 0}


def _on_this_node() -> Any:
    """A scheduling strategy that pins an actor to the driver's node, so the progress queue
    is not lost with a worker node. Hard affinity: Ray's soft affinity was seen to place the
    actor on another node right after a node had joined the cluster."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    except Exception:  # noqa: BLE001 - Ray Client and older versions: Ray places it
        return "DEFAULT"


def _connect(address: str | None) -> bool:
    """Make sure Ray is initialised; True when this call started a local instance."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, **quiet)
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local instance phones nowhere
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    return True


def execute_ray(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    results_dir: Path,
    address: str | None = None,
    jobs: int | None = None,
    retries: int | None = None,
    **common: Any,
) -> Iterator[tuple[RunKey, RunRecord]]:
    """Yield ``(key, record)`` as Ray tasks finish (in completion order).

    :param address: the Ray cluster to use (None: ``$RAY_ADDRESS`` or a local instance).
    :param jobs: at most this many runs in flight (None: as many as Ray can schedule).
    :param retries: restarts of a run whose node or worker died (None: ``$HARNESS_RAY_RETRIES``,
        else :data:`DEFAULT_RETRIES`); a run that raised is never retried (a run records
        its own failures and does not raise).
    :param common: ``timeout`` (per-run limit in seconds, counted from the moment the task
        starts; a run past it is cancelled and recorded with status ``timeout``), ``device``,
        ``resume``, ``progress``, ``plan`` (:class:`harness.execution.executor_base.Executor`).
    """
    yield from RayExecutor(
        scenario, keys, results_dir=results_dir, address=address, jobs=jobs, retries=retries, **common
    ).run()


class RayExecutor(Executor):
    """Each run a Ray task (:func:`run_task`); this process writes each record as it arrives
    and relays the progress events the tasks put on a queue."""

    def __init__(
        self,
        scenario: Scenario,
        keys: list[RunKey],
        *,
        address: str | None = None,
        jobs: int | None = None,
        retries: int | None = None,
        **common: Any,
    ) -> None:
        import ray  # noqa: F401 - without Ray this fails here, before anything is handed on

        self.retries = retries_from_env() if retries is None else retries
        super().__init__(scenario, keys, **common)
        self.address, self.jobs = address, jobs
        self.running: dict[Any, RunKey] = {}  # task ref -> its run
        self.queue: Any = None
        self.started_here = False
        self.start_times: dict[RunKey, float] = {}
        self.histories: dict[RunKey, list[dict[str, Any]]] = {key: [] for key in keys}
        self.attempts: dict[RunKey, list[NodeInfo]] = {key: [] for key in keys}  # the node of each start

    def has_room(self) -> bool:
        return self.jobs is None or len(self.running) < self.jobs

    def in_flight(self) -> int:
        return len(self.running)

    def open(self) -> None:
        import ray
        from ray.util.queue import Queue

        self.started_here = _connect(self.address)
        self.has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        self.queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": _on_this_node()})
        # Ray restarts a task whose node or worker died (on a live node); never one that raised
        self.task = ray.remote(max_retries=self.retries, retry_exceptions=False)(run_task)
        self.scenario_ref = ray.put(self.scenario)
        self.work_dir = str(self.results_dir.resolve())
        self.submitted = time.monotonic()

    def start(self, action: Action) -> None:
        key = action.key
        resources = task_resources(self.scenario, key, self.device, self.has_gpu)
        # SPREAD: runs go to the least loaded nodes, not first to the driver's node
        ref = self.task.options(
            name=f"harness:{self.scenario.name}:{key.slug}", scheduling_strategy="SPREAD", **resources
        ).remote(self.scenario_ref, key, self.work_dir, self.device, resources["num_cpus"], self.queue, action.context)
        self.running[ref] = key

    def collect(self) -> Iterator[tuple[RunKey, RunRecord]]:
        import ray

        ready, _ = ray.wait(list(self.running), num_returns=1, timeout=0.2)
        self._drain()
        for ref in ready:
            key = self.running.pop(ref)
            yield self.finished(key, self._saved(key, self._result(ref, key)))
        if self.timeout is not None:
            yield from self._stop_overdue(self.timeout)

    def _drain(self) -> None:
        try:
            events = self.queue.get_nowait_batch(self.queue.qsize()) if self.queue.qsize() else []
        except Exception:  # noqa: BLE001 - the queue actor is gone; records still arrive
            events = []
        for key, event, value in events:
            if event == "start":  # a restart after a lost node starts its history again
                self.start_times[key] = time.monotonic()
                self.histories[key] = []
                started: NodeInfo = value if value else {}  # the task's this_node(), through Ray's queue
                self.attempts[key].append(started.copy())
            elif event == "epoch":
                self.histories[key].append(value)
            self.progress(key, event, value)

    def _result(self, ref: Any, key: RunKey) -> RunRecord:
        """The record the task returned, or the failed record of a task whose node or worker died."""
        import ray

        try:
            result: RunRecord = ray.get(ref)  # run_task's record (ray is not followed by mypy)
            return result
        except Exception as exc:  # noqa: BLE001 - the node or worker died: recorded, the suite goes on
            seconds = time.monotonic() - self.start_times.get(key, self.submitted)
            seen = self.attempts[key]
            error = task_failure(exc, seen[-1] if seen else None, len(seen), self.retries)
            record = failed_record(
                self.scenario, key, status="error", error=error, history=self.histories[key], seconds=seconds
            )
            if error.get("node"):
                record["node"] = error["node"]
            return record

    def _stop_overdue(self, timeout: float) -> Iterator[tuple[RunKey, RunRecord]]:
        """Cancel every run past the per-run timeout; yield its ``timeout`` record."""
        import ray

        now = time.monotonic()
        for ref, key in list(self.running.items()):
            if key in self.start_times and now - self.start_times[key] > timeout:
                ray.cancel(ref, force=True)
                del self.running[ref]
                record = failed_record(
                    self.scenario,
                    key,
                    status="timeout",
                    error=timeout_error(timeout),
                    history=self.histories[key],
                    seconds=now - self.start_times[key],
                )
                yield self.finished(key, self._saved(key, record))

    def _saved(self, key: RunKey, record: RunRecord) -> RunRecord:
        """``record`` with the node(s) it ran on, written to the results directory."""
        record["node"] = self._where(key, record)
        return save_result(self.results_dir, key, record)

    def _where(self, key: RunKey, record: RunRecord) -> NodeInfo:
        """``record["node"]``: the node that ran the last attempt, the attempts, the nodes lost."""
        seen = self.attempts[key]
        last: NodeInfo = record.get("node") or (seen[-1] if seen else {})
        node = last.copy()
        node["attempts"] = max(len(seen), 1 if record.get("node") else 0)
        if len(seen) > 1:
            node["lost"] = seen[:-1]
        return node

    def close(self) -> None:
        import ray

        for ref in self.running:  # interrupted: stop the runs still going, keep every written result
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if self.queue is not None:
            with contextlib.suppress(Exception):
                self.queue.shutdown()
        if self.started_here:
            ray.shutdown()

"""Running (variant, seed) runs as Ray tasks: on this machine or on a Ray cluster.

Same interface as :func:`harness.executor.execute_local`: yields ``(key, record)`` as
runs finish, writes each record atomically to ``results/<variant>-seed<S>.json`` in the
results directory (on the machine running ``harness``) as soon as it arrives, and
relays progress events (``start``, ``total``, ``advance``, ``epoch``, ``done``,
``resumed``) for the progress bars. A run is the same call to
:func:`harness.runner.execute_run` as with the local executor, seeded from its key, so
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

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.hookspecs import hookimpl
from harness.runner import RunKey, base_record, execute_run, save_result
from harness.scenario import Scenario

ProgressSink = Callable[[RunKey, str, Any], None]

#: restarts of a run whose node (or worker process) died, when ``$HARNESS_RAY_RETRIES`` is unset
DEFAULT_RETRIES = 2
RETRIES_ENV = "HARNESS_RAY_RETRIES"


class QueueProgress:
    """Observer plugin inside a Ray task: sends progress events to the driver's queue.

    Events are sent once at the start and once per epoch (a queue put is a remote call;
    per-step sends would cost a round trip every step).
    """

    def __init__(self, queue: Any, key: RunKey) -> None:
        self.queue, self.key = queue, key
        self.steps_sent = 0

    def _send(self, *events: tuple[str, Any]) -> None:
        try:
            self.queue.put_nowait_batch([(self.key, event, value) for event, value in events])
        except Exception:  # noqa: BLE001 - progress is best effort; training goes on
            pass

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        hp = state.hparams
        self._send(("total", hp.optimizer_steps_per_epoch * hp.epochs))

    @hookimpl(trylast=True)
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        advance, self.steps_sent = state.step - self.steps_sent, state.step
        self._send(("advance", advance), ("epoch", dict(metrics)))


def run_task(
    scenario: Scenario, key: RunKey, results_dir: str, device: str | None, threads: int, queue: Any, decide: Any = None
) -> dict[str, Any]:
    """The body of one Ray task: train ``key`` in this worker and return its record."""
    import torch

    node = this_node()
    if queue is not None:  # the driver learns where the run is before it trains (a lost node is named)
        try:
            queue.put_nowait((key, "start", node))
        except Exception:  # noqa: BLE001
            pass
    if not scenario.variants[key.variant].train.threads:
        torch.set_num_threads(threads)
    observers = (QueueProgress(queue, key),) if queue is not None else ()
    record = execute_run(scenario, key, work_dir=Path(results_dir), device=device, observers=observers, decide=decide)
    record["node"] = node
    return record


def this_node() -> dict[str, str]:
    """The Ray node this code runs on: ``{"id": node id (hex), "ip": its IP, "host": hostname}``."""
    import ray

    return {"id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(), "host": socket.gethostname()}


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


def lost_node_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors that say the machine failed under a run, not the run itself: its node
    died or became unreachable, its worker process or raylet died, its result was lost with
    a node, or Ray's memory monitor killed it for the node's sake. A run ending in one of
    these is ``transient``: ``--resume`` runs it again."""
    from ray import exceptions as rx

    return tuple(
        getattr(rx, name)
        for name in ("NodeDiedError", "WorkerCrashedError", "LocalRayletDiedError", "ObjectLostError",
                     "RayActorError", "OutOfMemoryError")
        if hasattr(rx, name)
    )


def _node_in_message(text: str) -> dict[str, str]:
    """The node Ray names in an error message (``Node IP: 10.0.0.3, node ID: 8c1f...``), if any."""
    node: dict[str, str] = {}
    found = re.search(r"node id:?\s*([0-9a-f]{16,})", text, re.IGNORECASE)
    if found:
        node["id"] = found.group(1)
    found = re.search(r"node ip:?\s*([0-9A-Fa-f.:]+[0-9A-Fa-f])", text, re.IGNORECASE)
    if found:
        node["ip"] = found.group(1)
    return node


def _describe(node: dict[str, Any]) -> str:
    """``node 8c1f... (10.0.0.3, worker-2)``."""
    where = ", ".join(str(node[k]) for k in ("ip", "host") if node.get(k))
    return f"node {node.get('id', '?')}" + (f" ({where})" if where else "")


def task_failure(exc: BaseException, node: dict[str, Any] | None, attempts: int, retries: int) -> dict[str, Any]:
    """The ``error`` of a run whose Ray task failed; names the node it last ran on
    (from its ``start`` event, else from Ray's message) and says whether it is transient."""
    text = f"{type(exc).__name__}: {exc}"
    known = dict(node or {}) or _node_in_message(str(exc))
    error: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, lost_node_errors()):
        where = _describe(known) if known else "its node"
        tries = f"attempt {attempts} of {retries + 1}" if attempts else "before it started"
        error["message"] = f"lost {where} under this run ({type(exc).__name__}, {tries}); --resume runs it again. Ray: {exc}"
        error["transient"] = True
    else:
        error["message"] = "Ray task failed" + (f" on {_describe(known)}" if known else "") + f": {text}"
    if known:
        error["node"] = known
    return error


def wants_gpu(train_device: str, override: str | None, cluster_has_gpu: bool) -> bool:
    """Whether a run asks Ray for a GPU: it trains on CUDA (``auto``: when the cluster has one)."""
    device = override or train_device
    return device == "cuda" or (device == "auto" and cluster_has_gpu)


def task_resources(scenario: Scenario, key: RunKey, device: str | None, cluster_has_gpu: bool) -> dict[str, Any]:
    """``num_cpus`` and ``num_gpus`` of the Ray task of ``key``."""
    train = scenario.variants[key.variant].train
    return {
        "num_cpus": train.threads or 1,
        "num_gpus": 1 if wants_gpu(train.device, device, cluster_has_gpu) else 0,
    }


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


def _failed_record(scenario: Scenario, key: RunKey, history: list[dict[str, Any]], seconds: float, error: dict[str, Any], status: str) -> dict[str, Any]:
    from harness.expectations import evaluate_all
    from harness.runner import torch_version

    record = base_record(scenario, key)
    record.update(history=history, seconds=round(seconds, 3), status=status, error=error)
    record["expectations"] = evaluate_all(scenario.variants[key.variant].expectations, record, torch_version())
    return record


def execute_ray(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    results_dir: Path,
    address: str | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    device: str | None = None,
    resume: bool = False,
    progress: ProgressSink = lambda key, event, value: None,
    retries: int | None = None,
    plan: Any = None,
) -> Iterator[tuple[RunKey, dict[str, Any]]]:
    """Yield ``(key, record)`` as Ray tasks finish (in completion order).

    ``plan`` (:class:`harness.decisions.RunPlan`, default: every key in order, ``resume``
    reusing written results) says which run starts next and which are reused or skipped.

    :param address: the Ray cluster to use (None: ``$RAY_ADDRESS`` or a local instance).
    :param jobs: at most this many runs in flight (None: as many as Ray can schedule).
    :param timeout: per-run limit in seconds, counted from the moment the task starts;
        a run past it is cancelled and recorded with status ``timeout``.
    :param retries: restarts of a run whose node or worker died (None: ``$HARNESS_RAY_RETRIES``,
        else :data:`DEFAULT_RETRIES`); a run that raised is never retried (a run records
        its own failures and does not raise).
    """
    import ray
    from ray.util.queue import Queue

    results_dir = Path(results_dir)
    retries = retries_from_env() if retries is None else retries
    from harness.runner import suite_plan

    plan = plan if plan is not None else suite_plan(scenario, keys, results_dir, resume=resume)
    while (action := plan.next(False)) is not None:  # reused (--resume) or skipped before any start
        progress(action.key, "resumed" if action.kind == "reuse" else "done", action.record)
        yield action.key, action.record
    if plan.finished:
        return

    started_here = _connect(address)
    queue = None
    running: dict[Any, RunKey] = {}
    try:
        has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": _on_this_node()})
        # Ray restarts a task whose node or worker died (on a live node); never one that raised
        task = ray.remote(max_retries=retries, retry_exceptions=False)(run_task)
        scenario_ref = ray.put(scenario)
        work_dir = str(results_dir.resolve())
        start_times: dict[RunKey, float] = {}
        histories: dict[RunKey, list[dict[str, Any]]] = {key: [] for key in keys}
        attempts: dict[RunKey, list[dict[str, Any]]] = {key: [] for key in keys}  # the node of each start
        submitted = time.monotonic()

        def drain() -> None:
            try:
                events = queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []
            except Exception:  # noqa: BLE001 - the queue actor is gone; records still arrive
                events = []
            for key, event, value in events:
                if event == "start":  # a restart after a lost node starts its history again
                    start_times[key] = time.monotonic()
                    histories[key] = []
                    attempts[key].append(dict(value or {}))
                elif event == "epoch":
                    histories[key].append(value)
                progress(key, event, value)

        def where(key: RunKey, record: dict[str, Any]) -> dict[str, Any]:
            """``record["node"]``: the node that ran the last attempt, the attempts, the nodes lost."""
            seen = attempts[key]
            node = dict(record.get("node") or (seen[-1] if seen else {}))
            node["attempts"] = max(len(seen), 1 if record.get("node") else 0)
            if len(seen) > 1:
                node["lost"] = seen[:-1]
            return node

        while not plan.finished or running:
            while (action := plan.next(jobs is None or len(running) < jobs)) is not None:
                if action.kind != "start":  # reused or skipped: no task
                    progress(action.key, "resumed" if action.kind == "reuse" else "done", action.record)
                    yield action.key, action.record
                    continue
                key = action.key
                resources = task_resources(scenario, key, device, has_gpu)
                threads = resources["num_cpus"]
                # SPREAD: runs go to the least loaded nodes, not first to the driver's node
                ref = task.options(
                    name=f"harness:{scenario.name}:{key.slug}", scheduling_strategy="SPREAD", **resources
                ).remote(scenario_ref, key, work_dir, device, threads, queue, action.context)
                running[ref] = key
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            drain()
            for ref in ready:
                key = running.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the node or worker died: recorded, the suite goes on
                    seconds = time.monotonic() - start_times.get(key, submitted)
                    last = attempts[key][-1] if attempts[key] else None
                    error = task_failure(exc, last, len(attempts[key]), retries)
                    record = _failed_record(scenario, key, histories[key], seconds, error, "error")
                    if error.get("node"):
                        record["node"] = error["node"]
                record["node"] = where(key, record)
                record = save_result(results_dir, key, record)
                plan.finish(key, record)
                progress(key, "done", record)
                yield key, record
            if timeout is not None:
                now = time.monotonic()
                for ref, key in list(running.items()):
                    if key in start_times and now - start_times[key] > timeout:
                        ray.cancel(ref, force=True)
                        del running[ref]
                        record = _failed_record(
                            scenario, key, histories[key], now - start_times[key],
                            {"message": f"run exceeded the per-run timeout of {timeout:g} s and was stopped"},
                            "timeout",
                        )
                        record["node"] = where(key, record)
                        record = save_result(results_dir, key, record)
                        plan.finish(key, record)
                        progress(key, "done", record)
                        yield key, record
    finally:
        for ref in running:  # interrupted: stop the runs still going, keep every written result
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001
                pass
        if queue is not None:
            try:
                queue.shutdown()
            except Exception:  # noqa: BLE001
                pass
        if started_here:
            ray.shutdown()

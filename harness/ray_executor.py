"""Running (variant, seed) runs as Ray tasks: on this machine or on a Ray cluster.

Same interface as :func:`harness.executor.execute_local`: yields ``(key, record)`` as
runs finish, writes each record atomically to ``results/<variant>-seed<S>.json`` in the
results directory (on the machine running ``harness``) as soon as it arrives, and
relays progress events (``start``, ``total``, ``advance``, ``epoch``, ``done``,
``resumed``) for the progress bars. A run is the same call to
:func:`harness.runner.execute_run` as with the local executor, seeded from its key, so
records are identical (but for ``seconds``).

Resources per task (what Ray schedules on):

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
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.hookspecs import hookimpl
from harness.runner import RunKey, base_record, execute_run, reusable_result, save_result
from harness.scenario import Scenario

ProgressSink = Callable[[RunKey, str, Any], None]


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
    scenario: Scenario, key: RunKey, results_dir: str, device: str | None, threads: int, queue: Any
) -> dict[str, Any]:
    """The body of one Ray task: train ``key`` in this worker and return its record."""
    import torch

    if queue is not None:
        try:
            queue.put_nowait((key, "start", None))
        except Exception:  # noqa: BLE001
            pass
    if not scenario.variants[key.variant].train.threads:
        torch.set_num_threads(threads)
    observers = (QueueProgress(queue, key),) if queue is not None else ()
    return execute_run(scenario, key, work_dir=Path(results_dir), device=device, observers=observers)


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
) -> Iterator[tuple[RunKey, dict[str, Any]]]:
    """Yield ``(key, record)`` as Ray tasks finish (in completion order).

    :param address: the Ray cluster to use (None: ``$RAY_ADDRESS`` or a local instance).
    :param jobs: at most this many runs in flight (None: as many as Ray can schedule).
    :param timeout: per-run limit in seconds, counted from the moment the task starts;
        a run past it is cancelled and recorded with status ``timeout``.
    """
    import ray
    from ray.util.queue import Queue

    results_dir = Path(results_dir)
    pending: list[RunKey] = []
    for key in keys:
        existing = reusable_result(results_dir, scenario, key) if resume else None
        if existing is not None:
            progress(key, "resumed", existing)
            yield key, existing
        else:
            pending.append(key)
    if not pending:
        return

    started_here = _connect(address)
    queue = None
    running: dict[Any, RunKey] = {}
    try:
        has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        queue = Queue(actor_options={"num_cpus": 0})
        task = ray.remote(max_retries=0)(run_task)
        scenario_ref = ray.put(scenario)
        work_dir = str(results_dir.resolve())
        start_times: dict[RunKey, float] = {}
        histories: dict[RunKey, list[dict[str, Any]]] = {key: [] for key in pending}
        submitted = time.monotonic()

        def drain() -> None:
            try:
                events = queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []
            except Exception:  # noqa: BLE001 - the queue actor is gone; records still arrive
                events = []
            for key, event, value in events:
                if event == "start":
                    start_times[key] = time.monotonic()
                elif event == "epoch":
                    histories[key].append(value)
                progress(key, event, value)

        while pending or running:
            while pending and (jobs is None or len(running) < jobs):
                key = pending.pop(0)
                resources = task_resources(scenario, key, device, has_gpu)
                threads = resources["num_cpus"]
                ref = task.options(name=f"harness:{scenario.name}:{key.slug}", **resources).remote(
                    scenario_ref, key, work_dir, device, threads, queue
                )
                running[ref] = key
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            drain()
            for ref in ready:
                key = running.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the worker died: recorded, the suite goes on
                    seconds = time.monotonic() - start_times.get(key, submitted)
                    record = _failed_record(
                        scenario, key, histories[key], seconds,
                        {"message": f"Ray task failed: {type(exc).__name__}: {exc}"}, "error",
                    )
                record = save_result(results_dir, key, record)
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
                        record = save_result(results_dir, key, record)
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

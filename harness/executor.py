"""Running many (variant, seed) runs: each in its own worker process, up to ``jobs`` at once.

A worker process per run isolates runs from each other: a run that crashes, hangs past
``timeout`` or is killed costs only itself. The worker writes its result atomically
before it exits, so a finished run is never lost, even if the suite is interrupted;
the parent only reads result files and relays progress events from a pipe.
Every run seeds itself from its key, so results do not depend on ``jobs``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from harness.hookspecs import hookimpl
from harness.runner import RunKey, execute_run, read_result, save_result
from harness.scenario import Scenario

ProgressSink = Callable[[RunKey, str, Any], None]


class PipeProgress:
    """Observer plugin inside a worker: sends (event, value) for the parent's progress bars."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _send(self, event: str, value: Any) -> None:
        try:
            self.conn.send((event, value))
        except (BrokenPipeError, OSError):  # the parent went away; training goes on
            pass

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        hp = state.hparams
        self._send("total", hp.optimizer_steps_per_epoch * hp.epochs)

    @hookimpl
    def on_step(self) -> None:
        self._send("advance", 1)

    @hookimpl(trylast=True)
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        self._send("epoch", dict(metrics))


def worker_threads(jobs: int) -> int:
    """torch threads of a worker whose scenario sets no ``train.threads``: always 1.

    Not ``cores // jobs``: the thread count changes the order of floating-point
    reductions, so the same run gave different numbers with ``-j 1`` (2 threads) and
    ``-j 2`` (1 thread each) on a 2-core machine. With one thread per worker a run's
    result depends on its key alone and ``-j`` only decides how many run at once
    (``tests/core/test_seeds_and_jobs.py``); ``train.threads`` gives each run more.
    """
    del jobs
    return 1


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the suite's process dies, however it dies.

    A worker is a child process; a parent killed with SIGKILL (or SIGTERM, which runs no
    Python cleanup) would leave it training on as an orphan and writing a result behind a
    ``--resume`` that may already be re-running the same key. On Linux the kernel sends
    the worker SIGKILL when the parent exits (``PR_SET_PDEATHSIG``); elsewhere a daemon
    thread polls ``os.getppid()``. Ctrl-C reaches the parent, which stops its workers
    itself, so workers ignore SIGINT (no traceback of theirs over the terminal).
    """
    import signal
    import sys
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the guard was armed
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="harness-parent-watch", daemon=True).start()


def _work(
    scenario: Scenario, key: RunKey, results_dir: Path, device: str | None, threads: int, conn: Connection, parent_pid: int,
    decide: Any = None,
) -> None:
    _die_with_parent(parent_pid)
    import torch

    if not scenario.variants[key.variant].train.threads:
        torch.set_num_threads(threads)
    record = execute_run(scenario, key, work_dir=results_dir, device=device, observers=(PipeProgress(conn),), decide=decide)
    saved = save_result(results_dir, key, record)
    if saved is not record:  # the write failed (disk full, ...): the parent gets the record this way
        try:
            conn.send(("record", saved))
        except (BrokenPipeError, OSError):
            pass
    conn.close()


@dataclass
class _Running:
    key: RunKey
    process: Any
    conn: Connection
    started: float
    history: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None  # sent by a worker that could not write its result


START_METHOD_ENV = "HARNESS_START_METHOD"


def _context(start_method: str | None = None) -> Any:
    """The multiprocessing context of the workers: ``start_method``, ``$HARNESS_START_METHOD``,
    else ``fork`` where the platform has it (Linux) and ``spawn`` elsewhere (macOS, Windows).

    Nothing a run needs is inherited by fork only: a worker re-resolves its workload and
    plugins by name (``module:Class`` ones are imported from ``sys.path``, which a spawned
    worker gets from its parent), so a suite gives the same records with either method.
    """
    method = start_method or os.environ.get(START_METHOD_ENV) or (
        "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    )
    if method not in mp.get_all_start_methods():
        raise ValueError(
            f"start method {method!r} is not available here; choose one of {', '.join(mp.get_all_start_methods())}"
        )
    return mp.get_context(method)


def execute_local(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    results_dir: Path,
    jobs: int = 1,
    timeout: float | None = None,
    device: str | None = None,
    resume: bool = False,
    progress: ProgressSink = lambda key, event, value: None,
    start_method: str | None = None,
    plan: Any = None,
) -> Iterator[tuple[RunKey, dict[str, Any]]]:
    """Yield ``(key, record)`` as runs finish (in completion order).

    ``plan`` (:class:`harness.decisions.RunPlan`, default: every key in order, ``resume``
    reusing written results) says which run starts next and which are reused or skipped."""
    from harness.runner import suite_plan

    ctx = _context(start_method)
    plan = plan if plan is not None else suite_plan(scenario, keys, Path(results_dir), resume=resume)
    running: dict[RunKey, _Running] = {}
    threads = worker_threads(jobs)
    warm = ctx.get_start_method() != "fork"
    try:
        while not plan.finished or running:
            while (action := plan.next(len(running) < max(1, jobs))) is not None:
                if action.kind != "start":  # reused (--resume) or skipped (decided): no worker
                    progress(action.key, "resumed" if action.kind == "reuse" else "done", action.record)
                    yield action.key, action.record
                    continue
                if not warm:
                    _warm_up(scenario)
                    warm = True
                key = action.key
                clear_partial_mark(results_dir, key)  # of an earlier try
                reader, writer = ctx.Pipe(duplex=False)
                # not daemonic: a daemonic process may not start children, and a run's DataLoader
                # workers are its children. The worker still never outlives the suite: the
                # finally below kills it, and the kernel does when this process dies (_die_with_parent)
                proc = ctx.Process(
                    target=_work, args=(scenario, key, results_dir, device, threads, writer, os.getpid(), action.context),
                    daemon=False,
                )
                proc.start()
                writer.close()
                running[key] = _Running(key, proc, reader, time.monotonic())
                progress(key, "start", None)
            if not running:
                if plan.finished:
                    break
                raise RuntimeError("the run plan has nothing to start while no run is in flight")  # a plan bug
            ready = wait([r.conn for r in running.values()], timeout=0.2)
            for run in list(running.values()):
                if run.conn in ready:
                    _drain(run, progress)
                finished = not run.process.is_alive()
                timed_out = timeout is not None and time.monotonic() - run.started > timeout
                if not finished and not timed_out:
                    continue
                if not finished:
                    run.process.kill()
                run.process.join()
                _drain(run, progress)
                run.conn.close()
                del running[run.key]
                record = run.record or (read_result(results_dir, run.key) if finished else None)
                if record is None:
                    record = save_result(results_dir, run.key, _failed_record(scenario, run, timed_out and not finished, timeout))
                    mark_partial(results_dir, run.key, record["error"]["message"])
                plan.finish(run.key, record)
                progress(run.key, "done", record)
                yield run.key, record
    finally:
        for run in running.values():  # interrupted: stop workers, keep every written result
            run.process.kill()
            run.process.join()
            discard_partial(results_dir, run.key)  # its checkpoints are of a run that never finished


PARTIAL_MARKER = "INCOMPLETE"


def run_files(results_dir: Path, key: RunKey) -> Path:
    """Where a run writes its own files (checkpoints): ``results_dir/runs/<variant>-seed<S>``."""
    return Path(results_dir) / "runs" / key.slug


def discard_partial(results_dir: Path, key: RunKey) -> None:
    """Remove the files of a run stopped before it finished (Ctrl-C): nothing refers to them, and
    a half-trained ``checkpoint.pt`` must not pass for a finished run's. Its result was never written."""
    import shutil

    shutil.rmtree(run_files(results_dir, key), ignore_errors=True)


def clear_partial_mark(results_dir: Path, key: RunKey) -> None:
    try:
        (run_files(results_dir, key) / PARTIAL_MARKER).unlink(missing_ok=True)
    except OSError:  # a results path that is not a directory: the run reports it
        pass


def mark_partial(results_dir: Path, key: RunKey, reason: str) -> None:
    """Mark the files of a run that timed out or whose worker died: its record says why (status
    ``timeout``/``error``), and ``runs/<slug>/INCOMPLETE`` says so beside the checkpoints it left."""
    directory = run_files(results_dir, key)
    if directory.is_dir():
        try:
            (directory / PARTIAL_MARKER).write_text(
                f"this run did not finish ({reason}); its files here are partial\n", encoding="utf-8"
            )
        except OSError:
            pass


def _warm_up(scenario: Scenario) -> None:
    """Load data and heavy imports once in the parent, so every forked worker inherits them.

    Without this each worker imports the model library and reads the data cache itself
    (seconds per run). A failure here is left for the workers to report per run.
    """
    from harness.runner import _workload

    try:
        _workload(scenario).prepare()
    except Exception:
        pass


def _drain(run: _Running, progress: ProgressSink) -> None:
    try:
        while run.conn.poll():
            event, value = run.conn.recv()
            if event == "record":
                run.record = value
                continue
            if event == "epoch":
                run.history.append(value)
            progress(run.key, event, value)
    except (EOFError, OSError):
        pass


def _failed_record(scenario: Scenario, run: _Running, timed_out: bool, timeout: float | None) -> dict[str, Any]:
    """The record of a run whose worker left no result: it timed out or died."""
    from harness.expectations import evaluate_all
    from harness.runner import base_record, torch_version

    record = base_record(scenario, run.key)
    record["history"] = run.history
    record["seconds"] = round(time.monotonic() - run.started, 3)
    if timed_out:
        record["status"] = "timeout"
        record["error"] = {"message": f"run exceeded the per-run timeout of {timeout:g} s and was stopped"}
    else:
        record["status"] = "error"
        record["error"] = {"message": f"worker process died with exit code {run.process.exitcode}"}
    record["expectations"] = evaluate_all(scenario.variants[run.key.variant].expectations, record, torch_version())
    return record

"""Running many (variant, seed) runs: each in its own worker process, up to ``jobs`` at once.

A worker process per run isolates runs from each other: a run that crashes, hangs past
``timeout`` or is killed costs only itself. The worker writes its result atomically
before it exits, so a finished run is never lost, even if the suite is interrupted;
the parent only reads result files and relays progress events from a pipe.
Every run seeds itself from its key, so results do not depend on ``jobs``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.hookspecs import hookimpl
from harness.execution.executor_base import Executor, ProgressObserver, ProgressSink
from harness.execution.records import ErrorInfo, RunKey, RunRecord, failed_record, timeout_error
from harness.execution.results import read_result, save_result
from harness.execution.run_one import cached_workload, execute_run

if TYPE_CHECKING:
    from harness.core.state import TrainState
    from harness.execution.run_plan import Action, GroupContext
    from harness.scenario import Scenario


class PipeProgress(ProgressObserver):
    """Observer plugin inside a worker: sends (event, value) for the parent's progress bars."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, *events: tuple[str, Any]) -> None:
        try:
            for message in events:
                self.conn.send(message)
        except (BrokenPipeError, OSError):  # the parent went away; training goes on
            pass

    @hookimpl
    def on_step(self) -> None:
        self.send(("advance", 1))

    @hookimpl(trylast=True)
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.send(("epoch", dict(metrics)))


#: torch threads of a worker whose scenario sets no ``train.threads``: always 1, whatever ``-j``.
#: Not ``cores // jobs``: the thread count changes the order of floating-point reductions, so
#: the same run gave different numbers with ``-j 1`` (2 threads) and ``-j 2`` (1 thread each)
#: on a 2-core machine. With one thread per worker a run's result depends on its key alone and
#: ``-j`` only decides how many run at once (``tests/core/test_seeds_and_jobs.py``);
#: ``train.threads`` gives each run more.
WORKER_THREADS = 1


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
    scenario: Scenario,
    key: RunKey,
    results_dir: Path,
    device: str | None,
    threads: int,
    conn: Connection,
    parent_pid: int,
    decide: GroupContext | None = None,
) -> None:
    _die_with_parent(parent_pid)
    import torch

    if not scenario.variants[key.variant].train.threads:
        torch.set_num_threads(threads)
    record = execute_run(
        scenario, key, work_dir=results_dir, device=device, observers=(PipeProgress(conn),), decide=decide
    )
    saved = save_result(results_dir, key, record)
    if saved is not record:  # the write failed (disk full, ...): the parent gets the record this way
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(("record", saved))
    conn.close()


@dataclass
class _Running:
    key: RunKey
    process: Any
    conn: Connection
    started: float
    history: list[dict[str, Any]] = field(default_factory=list)
    record: RunRecord | None = None  # sent by a worker that could not write its result


START_METHOD_ENV = "HARNESS_START_METHOD"


def _context(start_method: str | None = None) -> Any:
    """The multiprocessing context of the workers: ``start_method``, ``$HARNESS_START_METHOD``,
    else ``fork`` where the platform has it (Linux) and ``spawn`` elsewhere (macOS, Windows).

    Nothing a run needs is inherited by fork only: a worker re-resolves its workload and
    plugins by name (``module:Class`` ones are imported from ``sys.path``, which a spawned
    worker gets from its parent), so a suite gives the same records with either method.
    """
    method = (
        start_method
        or os.environ.get(START_METHOD_ENV)
        or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
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
    start_method: str | None = None,
    **common: Any,
) -> Iterator[tuple[RunKey, RunRecord]]:
    """Yield ``(key, record)`` as runs finish (in completion order), each run in its own worker
    process, ``jobs`` at once. ``common``: ``timeout``, ``device``, ``resume``, ``progress``,
    ``plan`` (:class:`harness.execution.executor_base.Executor`)."""
    yield from LocalExecutor(
        scenario, keys, results_dir=results_dir, jobs=jobs, start_method=start_method, **common
    ).run()


class LocalExecutor(Executor):
    """Each run in a worker process of this machine (:func:`_work`), up to ``jobs`` at once;
    the worker writes its own result, this process reads it when the worker has ended."""

    def __init__(
        self, scenario: Scenario, keys: list[RunKey], *, jobs: int = 1, start_method: str | None = None, **common: Any
    ) -> None:
        self.ctx = _context(start_method)
        super().__init__(scenario, keys, **common)
        self.jobs = jobs
        self.running: dict[RunKey, _Running] = {}
        self.warm = self.ctx.get_start_method() != "fork"

    def has_room(self) -> bool:
        return len(self.running) < max(1, self.jobs)

    def in_flight(self) -> int:
        return len(self.running)

    def start(self, action: Action) -> None:
        if not self.warm:
            _warm_up(self.scenario)
            self.warm = True
        key = action.key
        clear_partial_mark(self.results_dir, key)  # of an earlier try
        reader, writer = self.ctx.Pipe(duplex=False)
        # not daemonic: a daemonic process may not start children, and a run's DataLoader
        # workers are its children. The worker still never outlives the suite: close() kills
        # it, and the kernel does when this process dies (_die_with_parent)
        proc = self.ctx.Process(
            target=_work,
            args=(
                self.scenario,
                key,
                self.results_dir,
                self.device,
                WORKER_THREADS,
                writer,
                os.getpid(),
                action.context,
            ),
            daemon=False,
        )
        proc.start()
        writer.close()
        self.running[key] = _Running(key, proc, reader, time.monotonic())
        self.progress(key, "start", None)

    def collect(self) -> Iterator[tuple[RunKey, RunRecord]]:
        ready = wait([r.conn for r in self.running.values()], timeout=0.2)
        for run in list(self.running.values()):
            if run.conn in ready:
                _drain(run, self.progress)
            finished = not run.process.is_alive()
            timed_out = self.timeout is not None and time.monotonic() - run.started > self.timeout
            if finished or timed_out:
                yield self.finished(run.key, self._ended(run, finished))

    def _ended(self, run: _Running, finished: bool) -> RunRecord:
        """The record of a worker that ended (``finished``) or is stopped now (timed out)."""
        if not finished:
            run.process.kill()
        run.process.join()
        _drain(run, self.progress)
        run.conn.close()
        del self.running[run.key]
        record = run.record or (read_result(self.results_dir, run.key) if finished else None)
        if record is None:  # it timed out, or the worker died without a result
            seconds = time.monotonic() - run.started
            error: ErrorInfo
            if finished:
                status, error = "error", {"message": f"worker process died with exit code {run.process.exitcode}"}
            else:
                status, error = "timeout", timeout_error(self.timeout)
            failed = failed_record(
                self.scenario, run.key, status=status, error=error, history=run.history, seconds=seconds
            )
            record = save_result(self.results_dir, run.key, failed)
            mark_partial(self.results_dir, run.key, record["error"]["message"])
        return record

    def close(self) -> None:
        for run in self.running.values():  # interrupted: stop workers, keep every written result
            run.process.kill()
            run.process.join()
            discard_partial(self.results_dir, run.key)  # its checkpoints are of a run that never finished


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
    with contextlib.suppress(OSError):  # a results path that is not a directory: the run reports it
        (run_files(results_dir, key) / PARTIAL_MARKER).unlink(missing_ok=True)


def mark_partial(results_dir: Path, key: RunKey, reason: str) -> None:
    """Mark the files of a run that timed out or whose worker died: its record says why (status
    ``timeout``/``error``), and ``runs/<slug>/INCOMPLETE`` says so beside the checkpoints it left."""
    directory = run_files(results_dir, key)
    if directory.is_dir():
        with contextlib.suppress(OSError):
            (directory / PARTIAL_MARKER).write_text(
                f"this run did not finish ({reason}); its files here are partial\n", encoding="utf-8"
            )


def _warm_up(scenario: Scenario) -> None:
    """Load data and heavy imports once in the parent, so every forked worker inherits them.

    Without this each worker imports the model library and reads the data cache itself
    (seconds per run). A failure here is left for the workers to report per run.
    """
    with contextlib.suppress(Exception):
        cached_workload(scenario).prepare()


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

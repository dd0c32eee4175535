"""The processes of a run: DataLoader workers that end with it, and its process tree's memory.

A run trains in one process; DataLoader workers (``num_workers > 0``) are its children.
This module keeps three promises about them:

- a worker never outlives its run: :func:`worker_init` (the ``worker_init_fn`` of every
  loader the loop builds) asks the kernel to kill the worker when the run's process dies,
  however it dies (a timeout's SIGKILL included; Linux ``PR_SET_PDEATHSIG``; elsewhere
  PyTorch's own watchdog ends an orphaned worker within seconds);
- whatever a run leaves running is ended when it finishes (:func:`end_new_children`,
  called from :func:`harness.execution.run_one.execute_run`'s ``finally``);
- the memory of the run's process and every descendant is measurable
  (:func:`tree_memory`, used by the ``memory`` monitor).

It imports nothing heavy at module level: a spawned worker imports it to run
:func:`worker_init` before it loads a single batch.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from dataclasses import dataclass
from typing import Any

#: multiprocessing's own helper processes (one per process that uses them, shared by every
#: run in it and relaunched on demand): not a run's workers, never ended by a run
MP_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process when its parent exits (Linux ``PR_SET_PDEATHSIG``).

    :returns: whether it is armed (False off Linux, or when ``prctl`` is unavailable).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        armed: bool = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG (ctypes: untyped)
        return armed
    except (OSError, AttributeError):
        return False


def worker_init(worker_id: int) -> None:
    """The ``worker_init_fn`` of the loop's DataLoaders: the worker ends with the run's process.

    Seeding needs nothing here: PyTorch seeds ``random``, NumPy and torch in each worker
    from a base seed it draws from the loader's own seeded generator (``base_seed +
    worker_id``), and the shuffle order is drawn in the training process, so a run with
    workers gets the batches of a run without, in the same order.
    """
    del worker_id
    die_with_parent()


def is_mp_helper(process: Any) -> bool:
    """Whether a ``psutil.Process`` is multiprocessing's resource tracker or fork server."""
    try:
        cmdline = " ".join(process.cmdline())
    except Exception:  # noqa: BLE001 - gone, or not ours to read
        return False
    return any(helper in cmdline for helper in MP_HELPERS)


def run_children(pid: int | None = None, exclude: frozenset[int] = frozenset()) -> list[Any]:
    """The live descendants of ``pid`` (default: this process) as ``psutil.Process`` objects,
    less multiprocessing's helpers and the pids in ``exclude`` (children that were already
    there before the run began, and their descendants)."""
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in descendants:
        try:
            if child.pid in exclude or child.status() == psutil.STATUS_ZOMBIE or is_mp_helper(child):
                continue
            if any(parent.pid in exclude for parent in child.parents()):
                continue
        except psutil.Error:
            continue
        found.append(child)
    return found


@dataclass(frozen=True)
class TreeMemory:
    """Memory of a process and its live descendants at one moment, in bytes."""

    rss: int  # resident memory of the process plus every descendant's
    worker_rss: int  # the descendants' share of ``rss``
    workers: int  # live descendants counted
    pss: int | None  # proportional set size of the tree (Linux): shared pages split, not repeated


def tree_memory(pid: int | None = None, exclude: frozenset[int] = frozenset()) -> TreeMemory:
    """The memory of ``pid`` (default: this process) and its live descendants
    (:func:`run_children`), measured now with ``psutil``.

    Resident memory (RSS) counts the pages processes share once per process: a forked
    worker's copy-on-write pages, inherited from the training process, appear in its RSS
    too. The proportional set size (PSS, Linux only) splits each shared page between the
    processes that share it, so its sum is what the tree really holds. A spawned worker
    shares little either way: it imports torch afresh, which is the cost spawn adds.
    """
    import psutil

    def measure(process: Any) -> tuple[int, int | None]:
        try:
            info = process.memory_full_info()
            return info.rss, getattr(info, "pss", None)
        except psutil.AccessDenied:
            return process.memory_info().rss, None

    try:
        rss, pss = measure(psutil.Process(pid))
    except psutil.Error:
        return TreeMemory(0, 0, 0, None)
    worker_rss, workers = 0, 0
    for child in run_children(pid, exclude):
        try:
            child_rss, child_pss = measure(child)
        except psutil.Error:
            continue
        worker_rss += child_rss
        workers += 1
        pss = None if pss is None or child_pss is None else pss + child_pss
    return TreeMemory(rss + worker_rss, worker_rss, workers, pss)


def child_pids() -> frozenset[int]:
    """Pids of this process's live descendants now (a snapshot to ``exclude`` later)."""
    import psutil

    try:
        return frozenset(p.pid for p in psutil.Process().children(recursive=True))
    except psutil.Error:
        return frozenset()


def end_new_children(before: frozenset[int], grace: float = 5.0) -> list[int]:
    """End every descendant of this process that is not in ``before`` (nor a multiprocessing
    helper): SIGTERM, then SIGKILL after ``grace`` seconds; wait for each. Returns their pids.

    The safety net of a run's clean shutdown: the loaders' workers were already shut down
    in order (:func:`harness.core.loop.shutdown_loaders`); this ends what a partly built iterator
    or any plugin left behind.
    """
    import psutil

    left = run_children(exclude=before)
    for child in left:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(left, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=grace)
    _reap_mp_children()
    return [child.pid for child in left]


def _reap_mp_children() -> None:
    """Let multiprocessing join its finished ``Process`` objects (no zombies left behind)."""
    import multiprocessing

    multiprocessing.active_children()


__all__ = [
    "TreeMemory",
    "child_pids",
    "die_with_parent",
    "end_new_children",
    "run_children",
    "tree_memory",
    "worker_init",
]

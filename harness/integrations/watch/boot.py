"""The child side of ``harness watch``: start a watcher before the script's first line, write its record as it runs.

``harness watch`` (and a scenario's script run) starts the user's command unchanged, with a
directory holding a ``sitecustomize.py`` first on ``PYTHONPATH`` and the environment variables
of :mod:`harness.execution.watch_launch` (the launcher's side): ``HARNESS_WATCH_OUT`` (where
each process writes its run record), ``HARNESS_WATCH_CONFIG`` (the plugins, as JSON; its
``fixes`` act on the script: :mod:`.interventions`; ``lr_sweep``, the LR range test: :mod:`.lr_sweep`) and ``HARNESS_WATCH_SEED`` (:mod:`.seeding`).
Every Python process of the command (the script, each ``torchrun`` rank, DataLoader workers
started with ``spawn``) imports that ``sitecustomize`` at start-up. It imports nothing of
harness: it puts a finder on ``sys.meta_path`` that, once the program's first ``import torch``
has loaded torch, imports this module away from the program's directory and calls
:func:`start_from_env` (``watch_launch.SITECUSTOMIZE``); the ``sitecustomize`` then runs any
other ``sitecustomize`` further on ``sys.path``, so the user's own still loads. The record is
written (atomically) when training starts, at each epoch's end, every ``SAVE_EVERY`` seconds
within a long epoch, and at exit: a program killed on the way (SIGKILL, an OOM kill,
``os._exit``) leaves what was seen until then, with status ``running``. A process that never
trained (the ``torchrun`` launcher, a data worker) writes no record; a forked child (a
DataLoader worker) never writes its parent's.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.core.run_record import record_to_json
from harness.execution.atomic_io import write_atomic
from harness.execution.watch_launch import ENV_CONFIG, ENV_OUT


def _unwatched(out: str, why: str) -> None:
    """Say so on stderr, and leave ``unwatched-<pid>.txt`` for the launcher (as the bootstrap does)."""
    sys.stderr.write(f"harness watch: {why}; the program runs unwatched\n")
    with contextlib.suppress(OSError):
        write_atomic(Path(out) / f"unwatched-{os.getpid()}.txt", why)


def _install(config: dict[str, Any]) -> tuple[Any, Any]:
    """The watcher, then the variant's fixes, then the LR sweep (``lr_sweep``: the last word on the
    LR, every monitor off), installed in that order: ``(watcher, sweep or None)``."""
    from .interventions import install_fixes
    from .parts import rank
    from .watcher import Watcher

    sweeping = bool(config.get("lr_sweep"))
    if sweeping:
        from .lr_sweep import install_sweep, no_monitors
    watcher = Watcher(
        no_monitors() if sweeping else config.get("plugins") or {},
        epoch_steps=int(config.get("epoch_steps", 100)),
        name=f"rank{rank()}" if "RANK" in os.environ else "script",
    )
    watcher.install()
    install_fixes(config.get("fixes") or {}, watcher.patches, watcher.fix_trace)  # a variant's fixes, from outside
    return watcher, install_sweep(config["lr_sweep"], watcher.patches, watcher) if sweeping else None


def start_from_env() -> Any:
    """Install a watcher configured by ``HARNESS_WATCH_CONFIG``; its record goes to ``HARNESS_WATCH_OUT`` at exit."""
    out = os.environ.get(ENV_OUT)
    if not out:
        return None
    config = json.loads(os.environ.get(ENV_CONFIG) or "{}")
    from .seeding import seed_from_env

    seed_from_env()  # a scenario's script run: the run's seed before the script's first line
    try:
        from .parts import rank

        watcher, sweep = _install(config)
    except Exception as exc:  # noqa: BLE001 - never stop the script
        _unwatched(out, f"the watcher could not start: {type(exc).__name__}: {exc}")
        return None
    pid, failure = os.getpid(), {}
    previous_hook = sys.excepthook

    def excepthook(kind: Any, value: Any, tb: Any) -> None:
        failure["error"] = f"{kind.__name__}: {value}"
        previous_hook(kind, value, tb)

    sys.excepthook = excepthook

    path = Path(out) / f"run-{rank():03d}-{pid}.json"

    def write() -> None:
        """The record so far (status ``running`` until the program ends), written atomically."""
        if os.getpid() != pid:
            return  # a forked child (a DataLoader worker): the parent writes the record
        record = watcher.record(command=sys.argv, rank=rank(), pid=pid)
        if failure:
            record["status"] = "error"
            record["error"] = {"message": failure["error"], "type": failure["error"].split(":")[0]}
        write_atomic(path, record_to_json(record))

    def finish() -> None:
        if os.getpid() != pid:
            return
        watcher.progress = None
        watcher.close()
        if watcher.state is None and not watcher.findings:
            return  # this process trained nothing (a launcher, a worker)
        write()

    watcher.progress = write
    atexit.register(finish)
    if sweep is not None:
        sweep.before_exit = finish  # it ends the program with os._exit: no atexit runs
    return watcher

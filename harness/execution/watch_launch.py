"""The launcher side of a watched program: what ``harness watch`` and a script run share.

A watched program is started with a directory holding a ``sitecustomize.py`` first on
``PYTHONPATH`` and environment variables the child reads
(:func:`harness.integrations.watch.boot.start_from_env`): :data:`ENV_OUT` (where each process
writes its run record), :data:`ENV_CONFIG` (the plugins, as JSON) and, for a scenario's script
run, :data:`ENV_SEED` (the run's seed, :mod:`harness.integrations.watch.seeding`). Every Python
process of the command imports that ``sitecustomize`` at start-up; it then runs any other
``sitecustomize`` further on ``sys.path``, so the user's own still loads. After the program
ended, :func:`collect_records` reads what its processes wrote. Torch-free.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.core.run_record import record_from_json

ENV_OUT = "HARNESS_WATCH_OUT"
ENV_CONFIG = "HARNESS_WATCH_CONFIG"
ENV_SEED = "HARNESS_WATCH_SEED"

SITECUSTOMIZE = '''\
"""Written by `harness watch`: start the watcher, then load any other sitecustomize."""
import os as _os


def _harness_watch():
    import importlib.machinery
    import importlib.util
    import sys

    if _os.environ.get("HARNESS_WATCH_OUT"):
        try:
            from harness.integrations.watch.boot import start_from_env
        except Exception as exc:  # noqa: BLE001 - the script runs unwatched rather than not at all
            sys.stderr.write(f"harness watch: cannot import harness in {sys.executable}: {exc}\\n")
        else:
            start_from_env()
    here = _os.path.dirname(_os.path.abspath(__file__))
    for entry in sys.path:
        if _os.path.abspath(entry or ".") == here:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry or "."])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            break


_harness_watch()
'''


def write_sitecustomize(directory: Path) -> Path:
    path = directory / "sitecustomize.py"
    path.write_text(SITECUSTOMIZE, encoding="utf-8")
    return path


def watch_env(
    directory: Path,
    records: Path,
    config: Mapping[str, Any],
    *,
    base: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> dict[str, str]:
    """The environment of a watched program: ``base`` (default: this process's) with ``directory``
    (holding the ``sitecustomize``, :func:`write_sitecustomize`) first on ``PYTHONPATH``, its
    records going to ``records`` and the watcher configured by ``config``
    (``{"plugins": ..., "epoch_steps": ...}``); ``seed``: the run's seed (None: the program's own)."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), env.get("PYTHONPATH")) if p)
    env[ENV_OUT] = str(records)
    env[ENV_CONFIG] = json.dumps(dict(config))
    if seed is None:
        env.pop(ENV_SEED, None)
    else:
        env[ENV_SEED] = str(seed)
    return env


def collect_records(directory: Path, warn: Callable[[str], None] = lambda message: None) -> list[dict[str, Any]]:
    """The run records the program's processes wrote to ``directory``, rank 0 first; an unreadable
    one (a process killed while writing) is left out and ``warn`` told why."""
    records = []
    for path in sorted(directory.glob("run-*.json")):
        try:
            records.append(record_from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            warn(f"unreadable run record {path.name}: {exc}")
    return sorted(records, key=lambda r: (r["train"].get("rank", 0), r["train"].get("pid", 0)))

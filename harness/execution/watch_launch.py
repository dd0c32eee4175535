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
"""Written by `harness watch`: the watcher starts when the program imports torch; then any other sitecustomize loads.

Nothing else is imported before the program's first line: a finder on sys.meta_path waits for
the first `import torch`, lets torch load, then imports harness with the interpreter's own
sys.path (not the program's directory) and the program's own modules set aside, so a local
`harness.py` or `yaml.py` is neither imported by harness nor replaced by harness's.
"""
import os as _os
import sys as _sys


def _harness_inside(path, directories):
    path = _os.path.abspath(path)
    return any(path.startswith(_os.path.join(_os.path.abspath(d or "."), "")) for d in directories)


def _harness_start(interpreter_path):
    from importlib.machinery import PathFinder

    mine = [p for p in _sys.path if p not in interpreter_path]  # the program's directory, its own entries
    own = {}  # the program's modules (a local harness.py imported before torch), set aside meanwhile
    for name, module in list(_sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if name in ("__main__", "__mp_main__") or not origin or not _harness_inside(origin, mine):
            continue
        if not _harness_inside(origin, [p for p in interpreter_path if p]):  # not site-packages under it
            own[name] = _sys.modules.pop(name)
    before, saved = set(_sys.modules), list(_sys.path)
    _sys.path[:] = interpreter_path
    try:
        from harness.integrations.watch.boot import start_from_env

        start_from_env()
    except Exception as exc:  # noqa: BLE001 - the program runs unwatched rather than not at all
        _harness_unwatched(f"the watcher could not load: {type(exc).__name__}: {exc}")
    finally:
        _sys.path[:] = saved
        for name in set(_sys.modules) - before:  # a module of harness's the program has its own of
            module = _sys.modules[name]
            spec = PathFinder.find_spec(name, mine) if "." not in name and mine else None
            if spec is not None and spec.origin != getattr(module, "__file__", None):
                del _sys.modules[name]  # harness keeps its reference; the program's import finds its own
        _sys.modules.update(own)


def _harness_unwatched(why):
    _sys.stderr.write(f"harness watch: {why}; {_sys.executable} runs the program unwatched\\n")
    _sys.stderr.flush()
    out = _os.environ.get("HARNESS_WATCH_OUT")
    if out:
        try:
            with open(_os.path.join(out, f"unwatched-{_os.getpid()}.txt"), "w", encoding="utf-8") as f:
                f.write(why)
        except OSError:
            pass


class _HarnessWatchOnTorch:
    """Answers no import itself: on the first `import torch` it lets torch load, then starts the watcher."""

    def __init__(self, interpreter_path):
        self.interpreter_path = interpreter_path

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        _sys.meta_path.remove(self)
        spec = None
        for finder in _sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module):
            run(module)
            try:
                del loader.exec_module
            except AttributeError:
                pass
            _harness_start(self.interpreter_path)

        loader.exec_module = exec_module
        return spec


def _harness_watch():
    if not _os.environ.get("HARNESS_WATCH_OUT"):
        return
    from importlib.util import find_spec

    if find_spec("harness") is None:  # no import: harness's finders (an editable install's too) asked
        _harness_unwatched("harness is not installed for this interpreter")
    elif "torch" in _sys.modules:
        _harness_start(list(_sys.path))
    else:
        _sys.meta_path.insert(0, _HarnessWatchOnTorch(list(_sys.path)))


def _harness_chain():
    """Run the next sitecustomize on sys.path (the program's own still loads)."""
    import importlib.machinery
    import importlib.util

    here = _os.path.dirname(_os.path.abspath(__file__))
    for entry in _sys.path:
        if _os.path.abspath(entry or ".") == here:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry or "."])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            break


_harness_watch()
_harness_chain()
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


def unwatched(directory: Path) -> list[str]:
    """Why processes of the program could not be watched (``unwatched-<pid>.txt``, written by the
    bootstrap when the watcher cannot load or start)."""
    reasons = []
    for path in sorted(directory.glob("unwatched-*.txt")):
        try:
            reasons.append(path.read_text(encoding="utf-8").strip())
        except OSError:
            continue
    return reasons


def skips_bootstrap(argv: list[str]) -> str | None:
    """The option of a Python command line that keeps the watcher out (``-I`` and ``-E`` ignore
    ``PYTHONPATH``, ``-S`` imports no ``sitecustomize``), else None."""
    if not os.path.basename(argv[0]).lower().startswith("python"):
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg.startswith("--") or not arg.startswith("-") or arg == "-":
            if arg == "--check-hash-based-pycs":
                next(args, None)
                continue
            if arg.startswith("--") and arg != "--":
                continue
            return None  # the script (or stdin): the interpreter's options have ended
        for i, letter in enumerate(arg[1:]):
            if letter in "IES":
                return f"-{letter}"
            if letter in "cm":
                return None
            if letter in "WX":  # takes a value: the rest of this argument, else the next one
                if i == len(arg) - 2:
                    next(args, None)
                break
    return None

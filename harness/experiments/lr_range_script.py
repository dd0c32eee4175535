"""The LR range test on a script scenario's variant: its program run once, swept from outside.

A script owns its training loop, so the sweep cannot answer the core loop's hooks
(:class:`harness.experiments.lr_range.LRSweep`): the variant's program runs once, as a script
run starts it (:func:`harness.execution.script_run.launch`: its patch, args, env and fixes,
seeded with the run's seed), under the watcher with ``lr_sweep`` in its config (every monitor
is then off: the sweep judges nothing). The watcher's :mod:`harness.integrations.watch.lr_sweep`
applies the same sweep (the same schedule, smoothing and stop rule) before each of the script's
optimizer steps, writes what it saw and ends the program when the sweep stops. A script's
batches per epoch are unknown before it runs, so the sweep has :data:`SCRIPT_STEPS` steps.

What the sweep saw goes back to :func:`harness.experiments.lr_range.lr_range_test`, which
suggests the LR as for any sweep (this module imports nothing of it: no import circle).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

#: the optimizer steps of a script's sweep (its batches per epoch are unknown up front)
SCRIPT_STEPS = 200
#: the longest a sweep's program may run, in seconds
SCRIPT_TIMEOUT = 300.0
#: why a program left no sweep though it exited well
NO_SWEEP = (
    "the program ended without an LR sweep: the watcher saw no optimizer step, or its Python could not import harness"
)


def script_sweep(
    scenario: Any, variant: str, seed: int, sweep: dict[str, Any], timeout: float = SCRIPT_TIMEOUT
) -> dict[str, Any]:
    """Run ``variant``'s program once under the watcher with ``lr_sweep: sweep`` (``start``, ``end``,
    ``steps``, ``beta``, ``stop_factor``; ``steps`` None: :data:`SCRIPT_STEPS`), seeded with ``seed``.

    Returns what the sweep wrote (``lrs``, ``raw``, ``losses``, ``current_lr``, ``stopped``, ...)
    and ``error``: None, or why the program failed (its exit code and stderr's last line), ran
    past ``timeout`` seconds or left no sweep (then ``lrs`` and ``losses`` are empty)."""
    from harness.execution.script_run import ProgramError, exit_message, launch

    program = scenario.variants[variant].script
    empty: dict[str, Any] = {"lrs": [], "raw": [], "losses": [], "current_lr": None, "stopped": ""}
    with tempfile.TemporaryDirectory(prefix="harness-lr-sweep-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "watch").mkdir()
        out = run_dir / "sweep.json"
        config = {"lr_sweep": {**sweep, "steps": sweep.get("steps") or SCRIPT_STEPS, "out": str(out)}}
        try:
            code = launch(program, seed, run_dir, config=config, timeout=timeout)
        except ProgramError as exc:
            return empty | {"error": str(exc)}
        error = exit_message(code, run_dir, where=False) if code != 0 else None
        if not out.exists():
            return empty | {"error": error or NO_SWEEP}
        return dict(json.loads(out.read_text(encoding="utf-8"))) | {"error": error}

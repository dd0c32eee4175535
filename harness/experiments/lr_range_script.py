"""The LR range test on a script scenario's variant: its program run once, swept from outside.

A script owns its training loop, so the sweep cannot answer the core loop's hooks
(:class:`harness.experiments.lr_range.LRSweep`): the variant's program runs once, as a script
run starts it (:func:`harness.execution.script_run.launch`: its patch, args, env and fixes,
seeded with the run's seed), under the watcher with ``lr_sweep`` in its config and every
monitor off. The watcher's :mod:`harness.integrations.watch.lr_sweep` applies the same sweep
(the same schedule, smoothing and stop rule) before each of the script's optimizer steps,
writes what it saw and ends the program when the sweep stops. A script's batches per epoch are
unknown before it runs, so the sweep has :data:`SCRIPT_STEPS` steps.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from harness.experiments.lr_range import RangeTest, suggest

#: the optimizer steps of a script's sweep (its batches per epoch are unknown up front)
SCRIPT_STEPS = 200
#: the longest a sweep's program may run, in seconds
SCRIPT_TIMEOUT = 300.0


def no_monitors() -> dict[str, bool]:
    """The watcher's ``plugins`` with every monitor and watch rule off: the sweep judges nothing."""
    from harness.integrations.watch.config import available_plugins

    return {name: False for name, info in available_plugins().items() if info.kind in ("monitor", "watch")}


def script_range_test(
    scenario: Any,
    variant: str,
    seed: int = 0,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int | None = None,
    beta: float = 0.98,
    stop_factor: float = 4.0,
    timeout: float = SCRIPT_TIMEOUT,
) -> RangeTest:
    """Sweep the LR on one run of ``variant``'s program (see the module docstring); a program that
    failed, ran past ``timeout`` seconds or left no sweep is returned as ``RangeTest.error``."""
    from harness.execution.script_run import ProgramError, exit_message, launch

    program = scenario.variants[variant].script
    with tempfile.TemporaryDirectory(prefix="harness-lr-sweep-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "watch").mkdir()
        out = run_dir / "sweep.json"
        sweep = {"start": start, "end": end, "steps": steps or SCRIPT_STEPS, "beta": beta, "stop_factor": stop_factor}
        config = {"plugins": no_monitors(), "lr_sweep": {**sweep, "out": str(out)}}
        try:
            code = launch(program, seed, run_dir, config=config, timeout=timeout)
        except ProgramError as exc:
            return RangeTest([], [], 0.0, seed=seed, error=str(exc))
        error = exit_message(code, run_dir, where=False) if code != 0 else None
        if not out.exists():
            why = error or (
                "the program ended without an LR sweep: no optimizer step was seen, or its Python "
                "could not import harness"
            )
            return RangeTest([], [], 0.0, seed=seed, error=why)
        data = json.loads(out.read_text(encoding="utf-8"))
    lrs, losses, stopped = list(data["lrs"]), list(data["losses"]), str(data["stopped"])
    suggested, min_lr, steepest = suggest(lrs, losses)
    if suggested is None and len(losses) >= 3:
        stopped = f"the loss never fell by 10% ({stopped})"
    current = float(data.get("current_lr") or 0.0)
    return RangeTest(lrs, losses, current, suggested, min_lr, steepest, stopped, seed, error=error)

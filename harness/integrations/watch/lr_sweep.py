"""The LR range test inside a running script: ``HARNESS_WATCH_CONFIG``'s ``lr_sweep``.

The doctor's range test (:mod:`harness.experiments.lr_range`) trains a ``Workload`` with the
core loop, whose hooks it answers; a script owns its loop, so the same sweep is applied to it
from outside, like a fix (:mod:`.interventions`), by :func:`install_sweep` (called by
:mod:`.boot` after the watcher and the fixes are installed when the config has
``"lr_sweep": {"start": 1e-7, "end": 10, "steps": 200, "out": "/path/sweep.json"}``):

- **the LR**: torch's global optimizer step pre-hook, registered after the watcher's (its
  monitors read the raw gradients first) and the fixes', sets every parameter group's LR along
  the exponential schedule (:func:`~harness.experiments.lr_range.lr_schedule`), right before
  the step and so after whatever the script's own scheduler set. The groups keep the ratios
  of their initial LRs (``initial_lr`` where a scheduler set it, else ``lr``, read at the first
  step: the LR the script built its optimizer with, a warm-up's 0 aside). Only the first
  optimizer that steps is swept (a GAN's second one trains as the script says).
- **the loss**: the scalar tensors passed to ``torch.autograd.backward`` (``loss.backward()``
  calls it), the loss before a ``GradScaler`` scaled it (the watcher's record of ``scale``);
  a step's loss is the mean of those backpropagated since the previous step (accumulation),
  read on the host once per step: a sync per step, an experiment's, never a watched run's.
- **the stop rule**: the core sweep's own (:class:`~harness.experiments.lr_range.SweepLog`:
  smoothed loss above 4x its minimum, a non-finite loss, the last LR).

Once the sweep stops, ``out`` is written atomically (``lrs`` tried, ``raw`` and smoothed
``losses``, ``current_lr``: the first group's initial LR, ``stopped``, ``steps`` taken) and the
program is **ended** with ``os._exit(0)`` after the watcher's record is written and stdout and
stderr are flushed: the script must not go on training at an LR of 10 (minutes of a diverged
run), and a ``SystemExit`` raised from the hook could be caught by the script (``except
BaseException``, a ``finally`` that saves and goes on, a retry loop). Its DataLoader workers end
with it (its process group is killed by :mod:`harness.execution.script_run`). A program that
ends before the sweep stops (fewer steps than the sweep, an error) still writes ``out`` at exit,
``stopped``: :data:`ENDED_FIRST`. One process is swept: a multi-process (DDP) program is not
supported (each rank would stop at its own loss).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from harness.execution.atomic_io import write_atomic
from harness.experiments.lr_range import SweepLog, lr_schedule

from .patches import Patches

#: ``stopped`` of a sweep whose program ended before the sweep did
ENDED_FIRST = "the program ended first"


class ScriptSweep:
    """One sweep of a running script's LR (see the module docstring).

    :param out: where the sweep is written when it stops (or the program ends).
    :param unscaled: the loss before a ``GradScaler`` scaled the tensor given, else None.
    """

    def __init__(
        self,
        out: str | Path,
        start: float = 1e-7,
        end: float = 10.0,
        steps: int = 200,
        beta: float = 0.98,
        stop_factor: float = 4.0,
        *,
        unscaled: Callable[[torch.Tensor], torch.Tensor | None] = lambda tensor: None,
    ) -> None:
        self.out = Path(out)
        self.lrs = lr_schedule(float(start), float(end), int(steps))
        self.log = SweepLog(beta, stop_factor)
        self.unscaled = unscaled
        self.optimizer: Any = None  # the optimizer swept: the first that steps
        self.ratios: list[float] = []  # each group's initial LR over the first's
        self.current_lr: float | None = None  # the script's own LR: the first group's initial LR
        self.pending: list[torch.Tensor] = []  # the losses backpropagated since the last step
        self.taken = 0  # optimizer steps whose LR the sweep set
        self.pid = os.getpid()
        #: called before the program is ended (boot.py: write the watcher's record)
        self.before_exit: Callable[[], None] | None = None

    def backward(self, tensors: Any) -> None:
        """A ``backward()`` call: keep its loss (scalar tensors only; a vector-Jacobian product is no loss)."""
        items = (
            [tensors]
            if isinstance(tensors, torch.Tensor)
            else list(tensors)
            if isinstance(tensors, list | tuple)
            else []
        )
        if not items or not all(
            isinstance(t, torch.Tensor) and t.numel() == 1 and t.is_floating_point() for t in items
        ):
            return
        values = []
        for tensor in items:
            before = self.unscaled(tensor)
            values.append((tensor if before is None else before).detach().float().reshape(()))
        self.pending.append(values[0] if len(values) == 1 else torch.stack(values).sum())

    def before_step(self, optimizer: Any) -> None:
        """The optimizer step pre-hook: the step's loss against the stop rule, then the swept LR."""
        if self.optimizer is None:
            self.optimizer = optimizer
            initial = [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]
            self.current_lr = initial[0]
            self.ratios = [lr / (initial[0] or 1.0) for lr in initial]
        elif optimizer is not self.optimizer:
            return
        lr = self.lrs[min(self.taken, len(self.lrs) - 1)]
        for group, ratio in zip(optimizer.param_groups, self.ratios, strict=False):
            group["lr"] = lr * ratio
        self.taken += 1
        batches, self.pending = self.pending, []
        if not batches:
            return  # no loss backpropagated before this step (a closure's): nothing to judge
        value = float(torch.stack(batches).mean())  # the experiment's one sync per step
        if self.log.add(lr, value, last=self.taken >= len(self.lrs)):
            self.end()

    def result(self, stopped: str) -> dict[str, Any]:
        log = self.log
        return {
            "lrs": log.tried,
            "raw": log.raw,
            "losses": log.losses,
            "current_lr": self.current_lr,
            "stopped": stopped,
            "steps": self.taken,
            "planned": len(self.lrs),
        }

    def write(self, stopped: str) -> None:
        write_atomic(self.out, json.dumps(self.result(stopped)))

    def end(self) -> None:
        """The sweep stopped: write it, the watcher's record, flush the output, and end the program."""
        self.write(self.log.stopped)
        if self.before_exit is not None:
            with contextlib.suppress(Exception):  # the sweep is written: the record is a bonus
                self.before_exit()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)  # not SystemExit: the script could catch it and train on (see the module docstring)

    def at_exit(self) -> None:
        """The program ended before the sweep stopped: what it saw, ``stopped`` :data:`ENDED_FIRST`."""
        if os.getpid() == self.pid and self.optimizer is not None:  # not a worker, not a launcher
            self.write(ENDED_FIRST)


def no_monitors() -> dict[str, bool]:
    """The watcher's ``plugins`` during a sweep: every monitor and watch rule off (the sweep judges
    nothing, and a monitor's cost is no part of it)."""
    from .config import available_plugins

    return {name: False for name, info in available_plugins().items() if info.kind in ("monitor", "watch")}


def install_sweep(config: Mapping[str, Any], patches: Patches, watcher: Any = None) -> ScriptSweep:
    """Sweep the LR of the script from now on, as ``config`` (``start``, ``end``, ``steps``, ``out``,
    optional ``beta``, ``stop_factor``) says; ``watcher``: the installed watcher (its hooks run first,
    its record of ``GradScaler.scale`` gives the unscaled loss)."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    def unscaled(tensor: torch.Tensor) -> torch.Tensor | None:
        scaled = getattr(watcher, "scaled", None)
        return scaled[1] if scaled is not None and scaled[0] == id(tensor) else None

    sweep = ScriptSweep(
        config["out"],
        config.get("start", 1e-7),
        config.get("end", 10.0),
        config.get("steps", 200),
        config.get("beta", 0.98),
        config.get("stop_factor", 4.0),
        unscaled=unscaled,
    )

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            sweep.backward(tensors)  # before the watcher's wrapper (inside) takes the scaler's record
            return original(tensors, *args, **kwargs)

        return backward

    patches.wrap(torch.autograd, "backward", wrap)
    patches.handle(register_optimizer_step_pre_hook(lambda opt, args, kwargs: sweep.before_step(opt)))
    atexit.register(sweep.at_exit)
    return sweep

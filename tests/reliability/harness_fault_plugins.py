"""Plugins that misbehave on purpose, for the reliability tests (not installed).

A scenario names them with ``plugin_modules: ["harness_fault_plugins:InjectNonFinite"]``;
the tests put this directory on ``sys.path`` (``PYTHONPATH`` for a subprocess).

Pathology: a loss that turns NaN/inf, a plugin that raises, hangs or kills its own
process, a checkpoint swapped for a hostile pickle; and a counter of started runs.
Signal: the run's status (``diverged``, ``error``, ``timeout``) and its record.
Fix: none; these exist to prove the harness contains each fault to its own run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.plugin import Plugin, hookimpl

COUNTER_ENV = "HARNESS_TEST_RUN_COUNTER"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InjectNonFinite(Plugin):
    """Adds a NaN (or inf) term to the loss of the batch that becomes optimizer step ``at_step``."""

    name = "inject_nonfinite"

    class Params(_Params):
        at_step: PositiveInt = 2
        value: Literal["nan", "inf", "-inf"] = "nan"

    @hookimpl
    def extra_losses(self, state: Any) -> Any:
        import torch

        if state.step + 1 == self.params.at_step:
            return torch.tensor(float(self.params.value))
        return None


class RaiseInHook(Plugin):
    """Raises from ``on_epoch_end`` of epoch ``at_epoch`` (a message with rich markup in it)."""

    name = "raise_in_hook"

    class Params(_Params):
        at_epoch: PositiveInt = 1

    @hookimpl
    def on_epoch_end(self, state: Any) -> None:
        if state.epoch == self.params.at_epoch:
            raise RuntimeError(f"injected failure at epoch {state.epoch} [/] [bold]not markup")


class BadInit(Plugin):
    """Fails while being constructed for a run."""

    name = "bad_init"

    def __init__(self, params: Any = None) -> None:
        raise ValueError("injected failure in __init__")

    @hookimpl
    def on_train_start(self) -> None:  # pragma: no cover - never constructed
        pass


class Hang(Plugin):
    """Sleeps ``seconds`` in ``on_train_start`` (a run that never finishes)."""

    name = "hang"

    class Params(_Params):
        seconds: float = Field(600.0, gt=0)

    @hookimpl
    def on_train_start(self) -> None:
        time.sleep(self.params.seconds)


class HardExit(Plugin):
    """Ends its own worker process with ``os._exit(code)`` at the first step."""

    name = "hard_exit"

    class Params(_Params):
        code: int = 3

    @hookimpl
    def on_step(self) -> None:
        os._exit(self.params.code)


class RunCounter(Plugin):
    """Appends ``<run dir name>`` to the file named by $HARNESS_TEST_RUN_COUNTER when a run starts."""

    name = "run_counter"

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        target = os.environ.get(COUNTER_ENV)
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(f"{Path(state.run_dir).name if state.run_dir else state.seed}\n")


class SwapCheckpoint(Plugin):
    """Replaces the checkpoint just written with the file named ``source`` before it is read back.

    Its ``on_checkpoint`` runs after ``checkpoint`` (tryfirst) wrote the file and before
    ``checkpoint_load`` (trylast) reads it: the window an attacker with write access to
    the run directory would use.
    """

    name = "swap_checkpoint"

    class Params(_Params):
        source: str

    @hookimpl
    def on_checkpoint(self, state: Any) -> None:
        written = state.stash.get("checkpoint")
        if written:
            Path(written["path"]).write_bytes(Path(self.params.source).read_bytes())

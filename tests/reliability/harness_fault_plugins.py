"""Plugins that misbehave on purpose, for the reliability tests (not installed).

A scenario names them with ``plugin_modules: ["harness_fault_plugins:InjectNonFinite"]``;
the tests put this directory on ``sys.path`` (``PYTHONPATH`` for a subprocess).

Pathology: a loss that turns NaN/inf, a plugin that raises, hangs or kills its own
process, a checkpoint swapped for a hostile pickle, a disk that fills up or refuses
writes; and a counter of started runs.
Signal: the run's status (``diverged``, ``error``, ``timeout``) and its record.
Fix: none; these exist to prove the harness contains each fault to its own run.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl

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

    Its ``on_checkpoint`` runs after ``checkpoint`` wrote the file (``save_checkpoint``,
    ``state.last_checkpoint``) and, as a ``tryfirst`` test double, before ``checkpoint_load``
    reads it in the same hook: the window an attacker with write access to the run
    directory would use.
    """

    name = "swap_checkpoint"

    class Params(_Params):
        source: str

    @hookimpl(tryfirst=True)
    def on_checkpoint(self, state: Any) -> None:
        written = state.last_checkpoint
        if written is not None:
            Path(written.path).write_bytes(Path(self.params.source).read_bytes())


# ------------------------------------------------------------------ I/O faults


class _FullFile:
    """A file opened for writing on a full disk: every write fails with ENOSPC."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def install_write_fault(match: str, error: str = "ENOSPC") -> None:
    """From now on, in this process, opening a file whose path contains ``match`` for writing
    fails: ``EACCES`` (permission denied) at the open, ``ENOSPC`` (no space left) at the first
    write. Patches ``open``/``io.open``, which ``Path.write_text``, ``Path.write_bytes`` and
    ``ElementTree.write`` go through; in a test, ``monkeypatch`` the two names instead."""
    builtins.open = io.open = failing_open(io.open, match, error)


def failing_open(real_open: Any, match: str, error: str) -> Any:
    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and match in os.fspath(file) and any(c in mode for c in "wax+"):
            if error == "EACCES":
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
            return _FullFile(real_open(file, mode, *args, **kwargs))
        return real_open(file, mode, *args, **kwargs)

    return fake_open


class FailWrites(Plugin):
    """From the first batch of epoch ``from_epoch`` on, writes to paths containing ``match`` fail
    with ``error`` in this run's worker process (see :func:`install_write_fault`), e.g. the
    result file (``match: /results/``) or the checkpoint (``match: checkpoint.pt``). Only for
    runs in a worker process: the fault outlives the run."""

    name = "fail_writes"

    class Params(_Params):
        match: str
        error: Literal["ENOSPC", "EACCES"] = "ENOSPC"
        from_epoch: PositiveInt = 1

    @hookimpl
    def on_batch(self, state: Any) -> None:
        if state.epoch >= self.params.from_epoch and not getattr(self, "_installed", False):
            install_write_fault(self.params.match, self.params.error)
            self._installed = True


class FillDisk(Plugin):
    """Fills the filesystem of ``directory`` (a small tmpfs in the test) with a filler file at
    the start of the run: every later write there fails with a real ENOSPC."""

    name = "fill_disk"

    class Params(_Params):
        directory: str

    @hookimpl
    def on_train_start(self) -> None:
        chunk = b"\0" * 4096
        with open(Path(self.params.directory) / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        with open(Path(self.params.directory) / "filler2", "wb", buffering=0) as fh:  # the last partial block
            try:
                while True:
                    fh.write(b"\0")
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

"""A test plugin for the two-node Ray cluster test (not installed; the test puts this
directory on ``PYTHONPATH`` before it starts the cluster, so Ray's workers import it).

Pathology: none; it counts executions. Every run that enables it appends
``start <run> <node id>`` to the file ``path`` when training starts and ``end <run> <node id>``
when it ends, and sleeps ``pace`` seconds after each epoch (a window in which the test
removes a node under a run in progress). Lines are short single ``write`` calls in append
mode, so concurrent runs on one machine never interleave within a line.
Signal: the tally file (how often each run started and finished, and where).
Fix: none.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl


def node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() or "local"
    except Exception:  # noqa: BLE001 - outside a Ray worker
        return "local"


class NodeTally(Plugin):
    """Tallies each run's start and end, with the Ray node it ran on, in ``path``."""

    name = "node_tally"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str
        pace: float = Field(0.0, ge=0)

    def _write(self, event: str, state: Any) -> None:
        run = Path(state.run_dir).name if state.run_dir else str(state.seed)
        fd = os.open(self.params.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {run} {node_id()}\n".encode())
        finally:
            os.close(fd)

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        self._write("start", state)

    @hookimpl
    def on_epoch_end(self) -> None:
        time.sleep(self.params.pace)

    @hookimpl
    def on_train_end(self, state: Any) -> None:
        self._write("end", state)

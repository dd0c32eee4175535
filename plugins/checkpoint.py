"""Save checkpoints as state dicts with plain-number metrics (issue 11, Fix 4).

Pathology: v1.5 saved whole objects and numpy metric values; since PyTorch 2.6
``torch.load`` defaults to ``weights_only=True`` and such checkpoints fail to load
(``UnpicklingError: Weights only load failed``).
Signal: loading the checkpoint raises ``UnpicklingError``.
Fix: save only ``state_dict()``s, metrics converted to Python floats/ints, the
prediction-distribution dict left out; written atomically (temp file + rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.plugin import Plugin, hookimpl


def plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as Python numbers only (numpy/tensor scalars converted, containers dropped)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, (dict, list, tuple)) or key == "prediction_distribution":
            continue
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


def state_dict_checkpoint(state: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "epoch": int(state.epoch),
        "step": int(state.step),
        "model_state_dict": state.model.state_dict(),
        "optimizer_state_dict": state.optimizer.state_dict(),
        "scheduler_state_dict": state.scheduler.state_dict() if state.scheduler is not None else None,
        "metrics": plain_metrics(metrics),
    }


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    every: PositiveInt = Field(1, description="save every N epochs")
    filename: str = Field("checkpoint.pt", description="file name inside the run directory")


class StateDictCheckpoint(Plugin):
    name = "checkpoint"
    Params = Params

    @hookimpl
    def on_checkpoint(self, state: Any, directory: Path) -> None:
        if state.epoch % self.params.every:
            return
        path = Path(directory) / self.params.filename
        atomic_torch_save(state_dict_checkpoint(state, state.history[-1]), path)
        state.outcomes["checkpoint_path"] = str(path)

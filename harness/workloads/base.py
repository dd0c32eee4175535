"""What a workload provides to the training loop.

A workload owns everything problem-specific: building the model and the data, the
forward pass, the default loss, and validation metrics. The loop and the plugins
only talk to it through this interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch


def cached_tensors(path: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load a workload's generated data from ``path``, or build it and write it atomically.

    Loaded with ``weights_only=True`` (a cache file is never trusted to run code); a
    corrupt entry is rebuilt.
    """
    import torch

    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception:
            pass
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return data


class WorkloadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Workload:
    """Base class; subclasses set ``name``, ``metrics`` and implement the methods."""

    name: ClassVar[str] = ""
    #: the validation metrics ``evaluate`` returns (expectations may name them)
    metrics: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[WorkloadParams]] = WorkloadParams

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params

    def prepare(self) -> None:
        """Load (or generate) the data and import heavy modules ahead of training.

        The executor calls it once in the parent process before forking workers.
        """
        self.datasets()

    def build_model(self) -> torch.nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def datasets(self) -> tuple[Any, Any]:  # pragma: no cover - interface
        """The (train, validation) datasets; generated deterministically and cached."""
        raise NotImplementedError

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def train_labels(self) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Any:  # pragma: no cover
        raise NotImplementedError

    def default_criterion(self) -> Any:  # pragma: no cover - interface
        """The plain loss, a callable ``(outputs, batch) -> scalar tensor``."""
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

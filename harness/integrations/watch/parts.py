"""What the watcher records along the way: the stand-in workload, a loss call, an optimizer, a DataLoader pass, a finding with its place."""

from __future__ import annotations

import gc
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import WatchError
from .sites import Site

#: training batches (and optimizer step windows) per epoch whose loss inputs (softmax sources,
#: kl_div inputs) and gradient resets are probed
PROBED_BATCHES = 8
#: every Nth training batch's predicted classes are counted (``pred_count_<k>``, for ``collapse``)
PREDICTION_SAMPLE = 4
#: the epochs a watched run is assumed to have left (its planned length is unknown)
PLANNED_EXTRA_EPOCHS = 3


class ScriptWorkload:
    """The little of a harness workload that monitors ask of a watched script."""

    name = "script"
    params = None
    metrics = None

    def __init__(self) -> None:
        self.classifier = False  # set once a training loss takes class logits

    def declared_metrics(self, params: Any = None) -> tuple[str, ...]:
        return ("accuracy",) if self.classifier else ()

    def logits(self, outputs: Any) -> Any:
        return outputs

    def train_labels(self) -> Any:
        raise WatchError("a watched script's training labels are unknown")


class HeldParameters(torch.nn.Module):  # type: ignore[misc]  # torch is not followed by mypy (untyped base)
    """The model, where no module called at top level holds the optimizer's tensors."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        super().__init__()
        self._held = list(tensors)

    def parameters(self, recurse: bool = True) -> Any:
        return iter(self._held)


@dataclass
class LossCall:
    """One call of a loss function with gradients enabled."""

    name: str
    input: torch.Tensor | None  # None: a loss known only as the tensor backward() was called on
    target: Any
    loss: torch.Tensor  # detached, 0-d
    fired: bool = False
    batch: int = 0  # the open batch it belongs to (a number: a list back-reference was a cycle)


@dataclass
class OptimizerInfo:
    """What the watcher knows of one optimizer: where it was built and stepped, its gradient resets."""

    label: str
    built: Site | None
    model: int | None = None  # id of the root module holding most of its tensors (once it stepped)
    stepped: Site | None = None
    steps: int = 0
    tracked: Any = None  # the hook handle on the parameter whose gradient resets are watched
    reset: bool = False  # this step window saw the gradient reset (None or zero)
    probing: bool = True  # this step window's gradient resets are checked
    seen: list[torch.Tensor] = field(default_factory=list)  # |grad| max when each backward arrived


@dataclass
class Pass:
    """One pass over a DataLoader in progress."""

    loader: Any
    steps_at_start: int
    trained_at_start: int
    iterator: Any = None  # a weak reference: a pass whose iterator is gone was left (``next(iter(loader))``)


@dataclass
class WatchFinding:
    """A finding of a watched run, with the place in the user's code that explains it."""

    kind: str
    epoch: int
    step: int | None
    message: str
    plugin: str
    where: str | None = None
    source: str | None = None
    value: float | None = None
    detail: dict[str, float] | None = None  # as :attr:`harness.core.state.Finding.detail`

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "epoch": self.epoch,
            "step": self.step,
            "message": self.message,
            "plugin": self.plugin,
            "where": self.where,
            "source": self.source,
            "value": self.value,
        } | ({"detail": self.detail} if self.detail is not None else {})

    def __str__(self) -> str:
        at = f" at {self.where}" + (f": {self.source}" if self.source else "") if self.where else ""
        return f"{self.kind} (epoch {self.epoch}, {self.plugin}){at}\n    {self.message}"


def _looks_like_probabilities(values: torch.Tensor) -> torch.Tensor:
    from harness.plugins.monitors.probability_outputs import looks_like_probabilities

    return looks_like_probabilities(values, 1e-2)


def graph_leaves(tensor: torch.Tensor, limit: int = 20000) -> set[int]:
    """``id``s of the leaf tensors ``tensor``'s autograd graph accumulates into (at most ``limit`` nodes)."""
    leaves: set[int] = set()
    seen: set[Any] = set()
    stack = [tensor.grad_fn]
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
        stack.extend(child for child, _ in node.next_functions)
    return leaves


def _live_modules() -> list[torch.nn.Module]:
    """Every ``nn.Module`` alive in the process (some objects warn or raise when asked their class)."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obj in gc.get_objects():
            try:
                if isinstance(obj, torch.nn.Module):
                    found.append(obj)
            except Exception:  # noqa: BLE001,S112 - a proxy whose __class__ fails is no module
                continue
    return found


def rank() -> int:
    """This process's rank under ``torchrun`` (0 otherwise)."""
    return int(os.environ.get("RANK", "0") or 0)

"""Helpers monitors share: per-step values buffered as tensors, checked once per epoch.

A monitor that looked at every step's loss with ``loss.item()`` would force a host
sync per step (slow on a GPU). Instead it appends the detached tensor to a
:class:`StepSeries` in ``on_step`` and checks the whole epoch at once in
``on_epoch_end`` (and in ``on_train_end``, which also runs when a run diverges before
its epoch ended).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a monitor module imports without torch
    import torch


class StepSeries:
    """Scalar tensors recorded per optimizer step, drained in one transfer per check."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[torch.Tensor] = []

    def add(self, step: int, value: torch.Tensor) -> None:
        self.steps.append(step)
        self.values.append(value.detach().reshape(()))

    def __len__(self) -> int:
        return len(self.steps)

    def drain(self) -> tuple[list[int], list[float]]:
        """The buffered ``(steps, values)`` as Python lists (one host sync), then empty the buffer."""
        if not self.steps:
            return [], []
        import torch

        values = torch.stack(self.values).double().cpu().tolist()
        steps = self.steps
        self.steps, self.values = [], []
        return steps, values


def total_grad_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor | None:
    """The L2 norm of all gradients as a 0-d tensor (no host sync), or None without gradients."""
    import torch

    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return None
    if hasattr(torch, "_foreach_norm"):  # what clip_grad_norm_ uses: one kernel per dtype/device
        norms = torch._foreach_norm(grads)
    else:  # pragma: no cover - very old torch
        norms = [torch.linalg.vector_norm(g) for g in grads]
    try:  # one dtype (or promotable dtypes) on one device: the common case, no per-tensor copy
        stacked = torch.stack(norms)
    except RuntimeError:  # norms on several devices
        device = grads[0].device
        stacked = torch.stack([n.to(device, torch.float32) for n in norms])
    return torch.linalg.vector_norm(stacked, dtype=torch.float32)

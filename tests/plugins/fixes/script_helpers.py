"""Fixes acting on a script's own torch calls, in this process: the watcher's interventions installed, then undone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from harness.integrations.watch.interventions import install_fixes
from harness.integrations.watch.patches import Patches


@contextmanager
def fixes_on_script(fixes: Mapping[str, Mapping[str, Any]]) -> Iterator[list[Any]]:
    patches = Patches()
    try:
        yield install_fixes(fixes, patches)
    finally:
        patches.undo()


def batches(n: int = 8, seed: int = 0, classes: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(16, 4, generator=generator), torch.randint(0, classes, (16,), generator=generator))
        for _ in range(n)
    ]

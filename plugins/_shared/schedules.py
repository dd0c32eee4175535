"""Schedule helpers shared by the LR plugins (not a plugin itself)."""

from __future__ import annotations

import math


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, floor: float = 0.1) -> float:
    """The report's ``_get_lr_schedule``: linear ramp ``step / warmup``, then ``max(floor, cosine)``.

    ``progress = (step - warmup) / (total - warmup)``; the cosine is ``0.5 * (1 + cos(pi * progress))``.
    """
    if step < warmup_steps:
        return step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return max(floor, 0.5 * (1.0 + math.cos(math.pi * progress)))

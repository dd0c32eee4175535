"""The v1.5 loss: ``reduction='none'`` with manual per-sample weights (issue 11, root cause 4).

Pathology: complexity without benefit. Every sample weight was 1.0, so the loss equals
a plain mean while hiding that no class balancing happens; it made the collapse
harder to debug. Kept so the broken configuration replays exactly.
Signal: none by itself (same value as the mean loss when weights are all 1).
Fix: switch this plugin off and use ``class_weights`` (``reduction='mean'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import Criterion, TrainState


def sample_weighted_cross_entropy(logits: Any, labels: Any, weights: Any) -> Any:
    """Per-sample cross-entropy times ``weights``, then the mean (the v1.5 formula)."""
    import torch.nn.functional as F

    per_sample = F.cross_entropy(logits.float(), labels, reduction="none")
    return (per_sample * weights).mean()


class SampleWeightedLoss(Plugin):
    name = "sample_weighted_loss"

    @hookimpl
    def make_criterion(self, state: TrainState) -> Criterion:
        import torch

        def criterion(logits: Any, batch: dict[str, Any]) -> Any:
            labels = batch["labels"]
            weights = batch.get("weight")
            if weights is None:  # v1.5's data carried a weight of 1.0 for every sample
                weights = torch.ones_like(labels, dtype=torch.float32)
            return sample_weighted_cross_entropy(logits, labels, weights)

        return criterion

"""saturation monitor: |logit| > 100 in the training batch's teacher logits or the model's logits."""

from __future__ import annotations

import torch

from harness.plugins.monitors.saturation import Saturation
from harness.testing import bare_state


def test_teacher_logits_beyond_100_in_any_batch_are_flagged_once_per_epoch() -> None:
    monitor, state = Saturation(), bare_state(epoch=1)
    monitor.on_batch_end({"teacher_logits": torch.tensor([[-2.0, 8.0]])})
    monitor.on_batch_end({"teacher_logits": torch.tensor([[-1190.0, 8.0]])})
    monitor.on_epoch_end(state, {"logit_absmax": 3.9})
    [finding] = state.findings
    assert (finding.kind, finding.epoch, finding.value) == ("saturation", 1, 1190.0)
    state.epoch = 2
    monitor.on_batch_end({"teacher_logits": torch.tensor([[-2.0, 8.0]])})
    monitor.on_epoch_end(state, {"logit_absmax": 3.9})
    assert len(state.findings) == 1  # epoch 2 was clean


def test_model_logits_from_validation_metrics_and_configurable_threshold() -> None:
    state = bare_state(epoch=3)
    Saturation().on_epoch_end(state, {"logit_absmax": 250.0})
    assert [(f.epoch, f.value) for f in state.findings] == [(3, 250.0)]
    state = bare_state(epoch=1)
    monitor = Saturation(Saturation.Params(max_abs=5.0, batch_keys=["images"], metrics=[]))
    monitor.on_batch_end({"images": torch.tensor([6.0]), "labels": torch.tensor([1])})
    monitor.on_epoch_end(state, {"logit_absmax": 1e6})
    assert [f.value for f in state.findings] == [6.0]


def test_batches_without_the_keys_and_integer_tensors_are_ignored() -> None:
    state = bare_state(epoch=1)
    monitor = Saturation(Saturation.Params(batch_keys=["teacher_logits", "input_ids"]))
    monitor.on_batch_end({"input_ids": torch.tensor([[50_000, 3]])})  # devign's batch: token ids
    monitor.on_epoch_end(state, {})
    assert state.findings == []


def test_it_sees_the_batch_as_the_loss_consumed_it_whatever_changes_it_in_on_batch() -> None:
    """It reads in on_batch_end, after every on_batch change (even a trylast one of a plugin
    registered after it), not by being called last in on_batch."""
    from typing import Any

    from harness.core.plugin import Plugin, hookimpl
    from harness.testing import tiny_patch_workload, train_tiny

    class Flatten(Plugin):
        """Test double. Pathology: none. Signal: none. Fix: zero the teacher logits."""

        name = "flatten_teacher"

        @hookimpl(trylast=True)
        def on_batch(self, batch: dict[str, Any]) -> None:
            batch["teacher_logits"] = batch["teacher_logits"] * 0

    raw = train_tiny({}, workload=tiny_patch_workload(), epochs=1, batch_size=32)
    flat = train_tiny(
        {"flatten_teacher": True}, extra=(Flatten,), workload=tiny_patch_workload(), epochs=1, batch_size=32
    )
    assert raw.finding_epochs("saturation") == [1]
    assert flat.finding_epochs("saturation") == []
    assert flat.trace["on_batch_end"]["saturation"] == 4

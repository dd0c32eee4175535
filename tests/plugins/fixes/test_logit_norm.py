"""logit_norm: teacher logits beyond +-100 z-scored and clamped; the task loss's logits clamped."""

from __future__ import annotations

import pytest
import torch

from harness.core.pluginmanager import build_run_manager, discover_plugins
from harness.plugins.fixes.logit_norm import LogitNorm, clamp_outputs, normalize_logits
from harness.testing import bare_state, enabled_plugins, tiny_patch_workload, train_tiny
from harness.workloads.patch_distillation import PatchOutputs


def test_saturated_logits_are_zscored_and_clamped() -> None:
    logits = torch.tensor([-1190.0, -600.0, -10.0, 0.0, 8.0])
    out = normalize_logits(logits, threshold=100.0, clamp=1.0)
    z = (logits - logits.mean()) / logits.std()
    assert torch.allclose(out, z.clamp(-1, 1), atol=1e-5)
    assert float(out.abs().max()) <= 1.0


def test_logits_within_the_threshold_are_left_alone() -> None:
    logits = torch.tensor([-2.0, 0.5, 8.0])
    assert torch.equal(normalize_logits(logits), logits)


def test_on_batch_normalizes_the_teacher_in_place_of_the_batch() -> None:
    batch = {"teacher_logits": torch.tensor([[-1190.0, 8.0, -500.0]]), "labels": torch.tensor([1])}
    LogitNorm().on_batch(batch)
    assert float(batch["teacher_logits"].abs().max()) <= 10.0
    assert float(batch["teacher_logits"].mean()) == pytest.approx(0.0, abs=1e-5)


def test_clamp_outputs_for_tensors_and_patch_outputs() -> None:
    assert torch.equal(clamp_outputs(torch.tensor([[-500.0, 50.0]]), 100.0), torch.tensor([[-100.0, 50.0]]))
    out = PatchOutputs(torch.zeros(1, 2), torch.tensor([250.0]), torch.zeros(1, 2))
    clamped = clamp_outputs(out, 100.0)
    assert float(clamped.image_logit) == 100.0 and float(out.image_logit) == 250.0  # a copy


def test_criterion_built_by_any_plugin_sees_clamped_logits() -> None:
    seen = []
    state = bare_state()
    state.workload = type("W", (), {"default_criterion": lambda self: lambda o, b: seen.append(o) or o.sum()})()
    pm, _ = build_run_manager(discover_plugins(), enabled_plugins({"logit_norm": True}, monitors=False))
    criterion = pm.hook.make_criterion(state=state)
    criterion(torch.tensor([[1000.0, -3.0]]), {})
    assert torch.equal(seen[0], torch.tensor([[100.0, -3.0]]))
    pm, _ = build_run_manager(
        discover_plugins(), enabled_plugins({"logit_norm": {"output_clamp": None}}, monitors=False)
    )
    criterion = pm.hook.make_criterion(state=state)
    criterion(torch.tensor([[1000.0]]), {})
    assert float(seen[1]) == 1000.0


def test_in_a_run_the_saturation_monitor_no_longer_sees_teacher_logits_above_100() -> None:
    workload = tiny_patch_workload()
    raw = train_tiny({}, workload=workload, epochs=1, batch_size=32)
    normed = train_tiny({"logit_norm": True}, workload=workload, epochs=1, batch_size=32)
    assert raw.finding_epochs("saturation") == [1]
    assert normed.finding_epochs("saturation") == []
    assert normed.trace["on_batch"]["logit_norm"] == 4

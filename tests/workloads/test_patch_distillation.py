"""The patch_distillation workload: teacher and student on the incident's scales, seeded data."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from harness.testing import tiny_patch_workload
from harness.workloads.patch_distillation import PatchOutputs
from harness.workloads.patch_images import PatchStudent, anomaly_template


def test_affine_teacher_spans_the_incident_scale_and_ranks_the_anomaly() -> None:
    workload = tiny_patch_workload(n_train=400, n_val=200)
    data = workload._load_data()
    teacher = data["train_teacher"]
    assert float(teacher.min()) == pytest.approx(-1190.0, abs=1e-3)
    assert float(teacher.max()) == pytest.approx(8.0, abs=1e-3)
    assert float(teacher.median()) < -100  # most patches far below zero: the scale mismatch
    metrics = workload.evaluate(workload.build_model(), _val_loader(workload), torch.device("cpu"))
    assert metrics["teacher_auc"] > 0.9  # the teacher is informative about the anomaly
    assert metrics["teacher_logit_absmax"] > 100  # and saturates anything it feeds raw


def test_heavy_tailed_teacher_is_on_the_student_scale_except_rare_outliers() -> None:
    workload = tiny_patch_workload(n_train=2000, n_val=64, teacher="heavy_tailed")
    teacher = workload._load_data()["train_teacher"].flatten()
    assert float(teacher.min()) == pytest.approx(-1190.0, abs=1e-3)
    assert float(teacher.max()) == pytest.approx(8.0, abs=1e-3)
    below_body = float((teacher < -2.0 - 1e-4).float().mean())
    assert 0.0005 < below_body <= 0.0025  # ~0.2% outliers
    body = teacher[teacher >= -2.0 - 1e-4]
    assert float(body.min()) >= -2.0 - 1e-4 and float(body.max()) <= 8.0 + 1e-4


def test_student_logits_are_bounded_to_minus_2_plus_4_whatever_the_input() -> None:
    torch.manual_seed(0)  # independent of the RNG state earlier tests leave behind
    student = PatchStudent(channels=4, patch_size=4, center=1.0, scale=3.0)
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(50)  # push the tanh into saturation both ways
        logits = student(torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 100)
    assert logits.shape == (8, 16)
    assert float(logits.min()) >= -2.0 and float(logits.max()) <= 4.0
    assert float(logits.min()) < -1.9 and float(logits.max()) > 3.9


def test_forward_pools_patch_logits_and_carries_the_teacher() -> None:
    for pooling, pool in (("max", lambda x: x.amax(dim=1)), ("mean", lambda x: x.mean(dim=1))):
        workload = tiny_patch_workload(pooling=pooling)
        batch = workload.collate([workload.datasets()[0][i] for i in range(5)])
        out = workload.forward(workload.build_model(), batch)
        assert isinstance(out, PatchOutputs)
        assert out.patch_logits.shape == out.teacher_logits.shape == (5, 16)
        assert torch.equal(out.image_logit, pool(out.patch_logits))
        assert torch.equal(out.teacher_logits, batch["teacher_logits"])
        loss = workload.default_criterion()(out, batch)  # the task loss only
        expected = torch.nn.functional.binary_cross_entropy_with_logits(out.image_logit, batch["labels"].float())
        assert torch.allclose(loss, expected)


def test_data_is_deterministic_cached_and_seeded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    first = tiny_patch_workload()._load_data()
    assert list((tmp_path / "patch_distillation").glob("*.pt"))  # written to the cache
    again = tiny_patch_workload()._load_data()  # from the cache
    rebuilt = tiny_patch_workload(cache_dir=str(tmp_path / "other"))._load_data()  # from scratch
    for key in first:
        assert torch.equal(first[key], again[key]) and torch.equal(first[key], rebuilt[key]), key
    other = tiny_patch_workload(data_seed=1)._load_data()
    assert not torch.equal(first["train_images"], other["train_images"])
    labels = first["train_labels"].float()
    assert 0.35 < float(labels.mean()) < 0.65  # about half carry an anomaly


def test_the_student_is_seeded_by_the_run_seed_only() -> None:
    workload = tiny_patch_workload()
    torch.manual_seed(3)
    a = workload.build_model()
    torch.manual_seed(3)
    b = workload.build_model()
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=False))


def test_evaluate_reports_every_declared_metric() -> None:
    workload = tiny_patch_workload()
    metrics = workload.evaluate(workload.build_model(), _val_loader(workload), torch.device("cpu"))
    assert set(metrics) == set(workload.metrics)
    assert -2.0 <= metrics["student_logit_min"] <= metrics["student_logit_max"] <= 4.0
    assert metrics["output_std"] > 0 and 0.0 <= metrics["auc"] <= 1.0


def test_anomaly_is_a_checkerboard_under_an_envelope() -> None:
    t = anomaly_template(1.2)
    assert t.shape[0] == t.shape[1] and t.shape[0] % 2 == 1
    c = t.shape[0] // 2
    assert float(t[c, c]) == pytest.approx(1.0)
    assert float(t[c, c + 1]) < 0 and float(t[c + 1, c + 1]) > 0  # alternating signs


def test_invalid_grid_is_rejected() -> None:
    from harness.workloads.patch_distillation import Params

    with pytest.raises(ValidationError, match="multiple of patch_size"):
        Params(image_size=30, patch_size=8)


def _val_loader(workload):
    from torch.utils.data import DataLoader

    return DataLoader(workload.datasets()[1], batch_size=64, collate_fn=workload.collate)

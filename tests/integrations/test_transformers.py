"""Harness plugins inside a real ``transformers.Trainer`` on the tiny devign workload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (pip install training-harness[hf])")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from pydantic import BaseModel, ConfigDict  # noqa: E402
from transformers import TrainingArguments  # noqa: E402

from harness.core.loop import seed_everything  # noqa: E402
from harness.core.monitoring import total_grad_norm  # noqa: E402
from harness.core.plugin import Plugin, hookimpl  # noqa: E402
from harness.integrations.transformers import (  # noqa: E402
    HarnessCallback,
    HarnessTrainer,
    HarnessTrainerError,
    classification_metrics,
)
from harness.plugins.fixes.class_weights import inverse_frequency_weights  # noqa: E402
from harness.testing import tiny_workload  # noqa: E402

EPOCHS, BATCH = 4, 16  # 96 training samples: 6 steps per epoch, 24 in all


def training_args(tmp_path: Path, **overrides: Any) -> TrainingArguments:
    settings: dict[str, Any] = dict(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        report_to=[],
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="no",
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=64,
        learning_rate=1e-3,
        max_grad_norm=0.0,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    return TrainingArguments(**(settings | overrides))


def make_trainer(tmp_path: Path, plugins: dict[str, Any], extra: tuple[type, ...] = (), **args: Any) -> HarnessTrainer:
    workload = tiny_workload()
    seed_everything(0)
    train, val = workload.datasets()
    return HarnessTrainer(
        model=workload.build_model(),
        args=training_args(tmp_path, **args),
        train_dataset=train,
        eval_dataset=val,
        data_collator=workload.collate,
        compute_metrics=classification_metrics,
        harness_plugins=plugins,
        harness_extra=extra,
    )


class _Probe(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RawGradNorm(Plugin):
    """Test probe. Pathology: none. Signal: the gradient norm before any plugin touched it. Fix: none."""

    name, kind, Params, finding_kinds = "probe_raw_norm", "monitor", _Probe, ("probe",)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.norms: list[float] = []

    @hookimpl  # read-only, before on_before_optimizer_step: no tryfirst needed
    def on_after_backward(self, state: Any) -> None:
        self.norms.append(float(total_grad_norm(state.model.parameters())))


class ClippedGradNorm(Plugin):
    """Test probe. Pathology: none. Signal: the gradient norm the optimizer steps with. Fix: none."""

    name, kind, Params, finding_kinds = "probe_clipped_norm", "monitor", _Probe, ("probe",)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.norms: list[float] = []

    @hookimpl(trylast=True)  # a test probe: after grad_clip in the same hook
    def on_before_optimizer_step(self, state: Any) -> None:
        self.norms.append(float(total_grad_norm(state.model.parameters())))


def test_broken_setup_records_collapse_and_the_trainer_stops(tmp_path: Path) -> None:
    # the plain loss with no class weights collapses to one class in epoch 1 on this data;
    # collapse_stop (from epoch 1, patience 1) asks to stop, the callback tells the Trainer.
    # Epoch 1 is the first 25% of the run's steps, which prediction_distribution does not
    # judge by default (a learning model often still sits at the prior there): grace 0.
    trainer = make_trainer(
        tmp_path, {"collapse_stop": {"patience": 1, "start_epoch": 1}, "prediction_distribution": {"grace_share": 0}}
    )
    trainer.train()
    record = trainer.harness.record()

    collapse = [f for f in record["findings"] if f["kind"] == "collapse"]
    assert [(f["epoch"], f["plugin"]) for f in collapse] == [(1, "prediction_distribution")]
    assert record["history"][0]["pred_positive"] in (0, record["history"][0]["n"])
    assert record["status"] == "stopped" and record["stop_reason"].startswith("collapse")
    assert trainer.state.global_step == 6 < trainer.state.max_steps == EPOCHS * 6  # one epoch of four
    assert len(record["history"]) == 1
    assert record["trace"]["on_epoch_end"]["collapse_stop"] == 1
    assert record["trace"]["make_criterion"] == {"defaults": 1}  # the plain loss: no fix on it
    for monitor in ("loss_explosion", "grad_health"):  # the distillation monitors, where installed
        if monitor in trainer.harness.available:
            assert monitor in record["plugins"] and record["trace"]["on_train_end"].get(monitor) == 1


def test_fixes_through_the_trainer_api(tmp_path: Path) -> None:
    trainer = make_trainer(
        tmp_path,
        {
            "class_weights": {"label_smoothing": 0.05},
            "linear_warmup": {"interval": "step"},
            "grad_clip": {"max_norm": 0.05},
        },
        extra=(RawGradNorm, ClippedGradNorm),
        warmup_steps=0.25,
    )
    assert trainer.args.max_grad_norm == 0.0  # clipping moved into the grad_clip plugin
    trainer.train()
    record = trainer.harness.record()
    state = trainer.harness.state
    steps = EPOCHS * 6

    # class weights: the criterion make_criterion built is the weighted, smoothed CE
    labels = tiny_workload().train_labels()
    weights = inverse_frequency_weights(labels)
    assert record["trace"]["make_criterion"] == {"class_weights": 1}
    assert record["outcomes"]["class_weights"] == pytest.approx(weights.tolist())
    logits, batch_labels = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1])
    expected = F.cross_entropy(logits, batch_labels, weight=weights, label_smoothing=0.05)
    assert torch.allclose(state.criterion(logits, {"labels": batch_labels}), expected)
    assert record["trace"]["compute_loss"] == {"defaults": steps}  # through compute_loss_func

    # per-step scheduler: the Trainer's own linear schedule, stepped after every step
    lrs = record["lr_per_step"]
    assert str(trainer.args.lr_scheduler_type.value) == "linear" and "linear_warmup" not in record["trace"].get(
        "on_step", {}
    )
    assert len(lrs) == steps and all(a != b for a, b in zip(lrs, lrs[1:], strict=False))  # a new LR every step
    assert lrs[:6] == sorted(lrs[:6]) and lrs[6:] == sorted(lrs[6:], reverse=True)  # warmup 6 steps, then decay

    # clipping: grad_clip acts before every step, after the monitors measured the raw norm
    assert record["trace"]["on_before_optimizer_step"]["grad_clip"] == steps
    raw = trainer.harness.pm.get_plugin("probe_raw_norm").norms
    clipped = trainer.harness.pm.get_plugin("probe_clipped_norm").norms
    assert len(raw) == len(clipped) == steps
    assert max(raw) > 0.05 and max(clipped) <= 0.05 * (1 + 1e-4)
    assert record["status"] == "ok"


def test_trainer_default_clipping_becomes_grad_clip_and_can_be_switched_off(tmp_path: Path) -> None:
    callback = HarnessCallback({})
    prepared = callback.prepare_arguments(training_args(tmp_path, max_grad_norm=1.0))
    assert prepared.max_grad_norm == 0.0 and callback.enabled["grad_clip"].max_norm == 1.0

    off = HarnessCallback({"grad_clip": False})
    assert off.prepare_arguments(training_args(tmp_path, max_grad_norm=1.0)).max_grad_norm == 0.0
    assert "grad_clip" not in off.enabled


def test_translated_fixes_become_training_arguments(tmp_path: Path) -> None:
    callback = HarnessCallback(
        {"lr_scaling": {"base_batch_size": 16, "rule": "sqrt"}, "mixed_precision": True, "linear_warmup": True}
    )
    args = callback.prepare_arguments(training_args(tmp_path, per_device_train_batch_size=64, warmup_steps=0.1))
    assert args.learning_rate == pytest.approx(2e-3)  # sqrt(64 / 16) = 2
    assert args.warmup_steps == pytest.approx(0.2)  # 0.1 x 2, capped at 0.2
    assert args.bf16 is True and str(args.lr_scheduler_type.value) == "linear"
    assert not {"lr_scaling", "mixed_precision", "linear_warmup"} & set(callback.enabled)


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        ({"linear_warmup": {"interval": "epoch"}}, "steps its scheduler after every optimizer step"),
        ({"checkpoint": True}, "needs hook\\(s\\) save_checkpoint"),
        ({"two_stage": True}, "needs hook\\(s\\) make_optimizer, make_scheduler"),
        (
            {"linear_warmup": True, "warmup_cosine": True},
            "'linear_warmup' and 'warmup_cosine' both answer the firstresult hook 'make_scheduler'",
        ),
        ({"class_weight": True}, "unknown plugin 'class_weight'"),
    ],
)
def test_what_the_trainer_cannot_apply_is_refused(tmp_path: Path, plugins: dict[str, Any], message: str) -> None:
    with pytest.raises(HarnessTrainerError, match=message):
        HarnessCallback(plugins).prepare_arguments(training_args(tmp_path))


def test_translated_fix_without_prepared_arguments_is_an_error(tmp_path: Path) -> None:
    workload = tiny_workload()
    train, val = workload.datasets()
    from transformers import Trainer

    callback = HarnessCallback({"linear_warmup": True})
    trainer = Trainer(
        model=workload.build_model(),
        args=training_args(tmp_path, num_train_epochs=1),
        train_dataset=train,
        eval_dataset=val,
        data_collator=workload.collate,
        callbacks=[callback],
        compute_loss_func=callback.compute_loss,
    )
    with pytest.raises(HarnessTrainerError, match="prepare_arguments"):
        trainer.train()


class _Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr_factor: float = 1.0


class LRInSetup(Plugin):
    """Test double. Pathology: none. Signal: none. Fix: changes hparams.lr in on_setup (too late for a Trainer)."""

    name, Params = "lr_in_setup", _Weights

    @hookimpl
    def on_setup(self, state: Any) -> None:
        state.hparams.lr *= self.params.lr_factor


def test_on_setup_fixes_that_set_loss_weights_now_apply(tmp_path: Path) -> None:
    """loss_weights sets hparams.loss_weights in on_setup; the callback weights the task term like the loop."""
    plain = make_trainer(tmp_path / "a", {})
    plain.train()
    weighted = make_trainer(tmp_path / "b", {"loss_weights": {"alpha_task": 0.5, "alpha_distill": 0.3}})
    assert "loss_weights" in weighted.harness.enabled
    weighted.train()
    record = weighted.harness.record()
    assert record["trace"]["on_setup"] == {"loss_weights": 1}
    assert weighted.harness.state.hparams.loss_weights == {"task": 0.5, "distill": 0.3}
    # same init and batches; AdamW's steps hardly depend on the gradient's scale: about half the loss
    ratio = record["history"][0]["loss"] / plain.harness.record()["history"][0]["loss"]
    assert ratio == pytest.approx(0.5, rel=0.1)


def test_an_on_setup_change_the_trainer_already_applied_is_refused(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, {"lr_in_setup": {"lr_factor": 2.0}}, extra=(LRInSetup,))
    with pytest.raises(HarnessTrainerError, match="lr_in_setup changed hparams lr in on_setup"):
        trainer.train()
    unchanged = make_trainer(tmp_path / "same", {"lr_in_setup": {"lr_factor": 1.0}}, extra=(LRInSetup,))
    unchanged.train()  # changing nothing is fine
    assert unchanged.harness.record()["trace"]["on_setup"] == {"lr_in_setup": 1}


def test_scale_matching_is_no_longer_refused() -> None:
    callback = HarnessCallback({"scale_matching": True})
    assert "scale_matching" in callback.enabled  # it answers distill_inputs, which a distillation term raises

"""optimizer: AdamW, Adam or plain SGD by name; the LR is always the scenario's (hparams.lr)."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from harness import Workload
from harness.plugins.fixes.optimizer import Optimizer, Params
from harness.testing import make_state, train_tiny


class TinyMLP(Workload):
    """A 2-layer MLP on 8 random features; ``input_scale`` makes them unnormalised."""

    name = "tiny_mlp"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        input_scale: float = 1.0

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    def datasets(self):
        g = torch.Generator().manual_seed(1234)
        x = torch.randn(384, 8, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
        x = x * self.params.input_scale
        ds = torch.utils.data.TensorDataset
        return ds(x[:256], y[:256]), ds(x[256:], y[256:])


def _mlp(scale: float = 1.0) -> TinyMLP:
    return TinyMLP(TinyMLP.Params(input_scale=scale))


def _build(setting: dict, **train) -> torch.optim.Optimizer:
    """The optimizer the plugin builds for a fresh state (no training)."""
    state = make_state(_mlp(), **train)
    optimizer = Optimizer(Params.model_validate(setting)).make_optimizer(state)
    assert [p for g in optimizer.param_groups for p in g["params"]] == list(state.model.parameters())
    return optimizer


# ------------------------------------------------------------------ what it builds


def test_default_is_adamw_with_the_scenarios_lr_and_weight_decay() -> None:
    opt = _build({}, lr=3e-3, weight_decay=0.05)
    assert type(opt) is torch.optim.AdamW
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["betas"], group["eps"]) == (3e-3, 0.05, (0.9, 0.999), 1e-8)


def test_adam_takes_its_betas_eps_and_own_weight_decay() -> None:
    opt = _build({"name": "adam", "betas": [0.8, 0.95], "eps": 1e-6, "weight_decay": 0.0}, lr=0.02, weight_decay=0.05)
    assert type(opt) is torch.optim.Adam
    group = opt.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (0.02, (0.8, 0.95), 1e-6, 0.0)


def test_sgd_takes_momentum_and_nesterov_and_the_scenarios_weight_decay() -> None:
    opt = _build({"name": "sgd", "momentum": 0.9, "nesterov": True}, lr=0.1, weight_decay=1e-4)
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (0.1, 0.9, True, 1e-4)
    plain = _build({"name": "sgd"}, lr=0.1).param_groups[0]
    assert (plain["momentum"], plain["nesterov"]) == (0.0, False)


def test_lr_is_the_one_other_plugins_left_in_hparams() -> None:
    # lr_scaling multiplies hparams.lr in on_setup: batch 64 / base 16, sqrt rule -> x2
    run = train_tiny(
        {"optimizer": {"name": "sgd"}, "lr_scaling": {"base_batch_size": 16}},
        workload=_mlp(),
        epochs=1,
        lr=0.01,
        batch_size=64,
    )
    assert type(run.state.optimizer) is torch.optim.SGD
    assert run.state.optimizer.param_groups[0]["lr"] == pytest.approx(0.02)
    assert run.trace["make_optimizer"] == {"optimizer": 1}


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_weights_change_after_one_step(name: str) -> None:
    before = [p.detach().clone() for p in make_state(_mlp()).model.parameters()]  # same seed, same init
    run = train_tiny({"optimizer": {"name": name}}, workload=_mlp(), epochs=1, lr=0.01, batch_size=256)
    assert run.state.step == 1 and run.status == "ok"
    after = list(run.state.model.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=False))


# ------------------------------------------------------------------ Adam masks an LR too high


def test_at_lr_50_sgd_diverges_while_adamw_survives_the_spike() -> None:
    sgd = train_tiny({"optimizer": {"name": "sgd", "momentum": 0.0}}, workload=_mlp(), epochs=3, lr=50.0)
    adamw = train_tiny({"optimizer": {"name": "adamw"}}, workload=_mlp(), epochs=3, lr=50.0)
    # SGD's step is lr x grad: the loss goes non-finite (measured: 5e14, 6e33, then NaN)
    assert sgd.status == "diverged" and sgd.state.diverged_at_step is not None
    assert sgd.finding_epochs("loss_explosion") and sgd.finding_epochs("nan")
    # AdamW's step is ~lr per weight whatever the gradient: the loss spikes (the monitor
    # sees it: ~4800 in epoch 1) but stays finite, falls back (measured ~2.7) and the run
    # learns, so an LR-too-high incident reads as a transient blip, not a divergence
    assert adamw.status == "ok" and adamw.state.diverged_at_step is None
    losses = adamw.metric("loss")
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0] / 100
    assert 1 in adamw.finding_epochs("loss_explosion")
    assert adamw.metric("accuracy")[-1] > 0.7


def test_on_unnormalised_inputs_an_lr_that_explodes_sgd_leaves_adamw_clean() -> None:
    # inputs x100: SGD's step grows with the gradient's scale, Adam's does not
    sgd = train_tiny({"optimizer": {"name": "sgd", "momentum": 0.0}}, workload=_mlp(100.0), epochs=3, lr=0.1)
    adamw = train_tiny({"optimizer": {"name": "adamw"}}, workload=_mlp(100.0), epochs=3, lr=0.1)
    assert sgd.finding_epochs("loss_explosion") == [1, 2, 3] and sgd.metric("loss")[-1] > 1e6
    assert adamw.status == "ok" and adamw.finding_epochs("loss_explosion") == []
    assert adamw.metric("loss")[-1] < adamw.metric("loss")[0] and adamw.metric("accuracy")[-1] > 0.85


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("setting", "field", "words"),
    [
        ({"name": "sgd", "nesterov": True}, "nesterov", "momentum > 0"),
        ({"name": "sgd", "momentum": 0.0, "nesterov": True}, "nesterov", "momentum > 0"),
        ({"name": "rmsprop"}, "name", "'adamw', 'adam' or 'sgd'"),
        ({"name": "adam", "momentum": 0.9}, "momentum", "only to optimizer name sgd"),
        ({"name": "sgd", "betas": [0.9, 0.99]}, "betas", "only to optimizer name adam or adamw"),
        ({"name": "sgd", "eps": 1e-6}, "eps", "only to optimizer name adam or adamw"),
        ({"betas": [0.9, 1.0]}, "betas", "less than 1"),
        ({"lr": 0.1}, "lr", "Extra inputs"),  # the LR is always train.lr
    ],
)
def test_invalid_params_fail_validation_naming_the_field(setting: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        Params.model_validate(setting)
    error = info.value.errors()[0]
    assert error["loc"][0] == field and words in error["msg"]
    assert field in str(info.value)


def test_train_tiny_rejects_nesterov_without_momentum_before_training() -> None:
    with pytest.raises(ValidationError, match="nesterov"):
        train_tiny({"optimizer": {"name": "sgd", "nesterov": True}}, workload=_mlp(), epochs=1)

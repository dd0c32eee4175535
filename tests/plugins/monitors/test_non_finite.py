"""non_finite monitor: records a ``nan`` finding for NaN/inf losses, weights or validation loss."""

from __future__ import annotations

import torch

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.monitors.non_finite import NonFinite
from harness.testing import bare_state, tiny_workload, train_tiny


def test_first_non_finite_step_loss_is_recorded_with_its_step() -> None:
    monitor = NonFinite(NonFinite.Params(check_parameters=False))
    state = bare_state(epoch=1)
    for step, loss in enumerate([0.7, 0.6, float("nan"), float("inf")], start=1):
        state.step = step
        monitor.on_step(state, torch.tensor(loss))
    monitor.on_epoch_end(state, {"val_loss": 0.5})
    [finding] = state.findings
    assert (finding.kind, finding.epoch, finding.step) == ("nan", 1, 3)
    assert "2 non-finite steps" in finding.message


def test_non_finite_weights_and_validation_loss() -> None:
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.bias.fill_(float("nan"))
    state = bare_state(epoch=2, model=model)
    NonFinite().on_epoch_end(state, {"val_loss": float("inf")})
    messages = sorted(f.message for f in state.findings)
    assert messages == ["non-finite weights in 1 tensors, e.g. bias", "validation val_loss is inf"]


class NaNAtStep3(Plugin):
    """Pathology: test double. Signal: none. Fix: none; adds NaN to the 3rd batch's loss."""

    name = "nan_at_step_3"

    @hookimpl
    def extra_losses(self, state):
        return torch.tensor(float("nan")) if state.step == 2 else None


def test_a_diverged_devign_run_records_where_it_went_nan() -> None:
    run = train_tiny({"nan_at_step_3": True}, extra=(NaNAtStep3,), workload=tiny_workload(), epochs=2, batch_size=16)
    assert run.status == "diverged" and run.state.diverged_at_step == 3
    nan = [f for f in run.findings if f["kind"] == "nan"]
    assert [(f["epoch"], f["step"]) for f in nan] == [(1, 3)]
    assert run.trace["on_train_end"]["non_finite"] == 1

from __future__ import annotations

import torch

from harness.core.hookspecs import hookimpl
from harness.testing import run_tiny


class DtypeProbe:
    def __init__(self) -> None:
        self.dtypes: set[torch.dtype] = set()

    @hookimpl(tryfirst=True)
    def compute_loss(self, outputs) -> None:
        self.dtypes.add(outputs.dtype)


def test_bf16_autocast_on_cpu() -> None:
    probe = DtypeProbe()
    state, status, trace = run_tiny({"mixed_precision": True}, observers=(probe,), epochs=1)
    assert status == "ok"
    assert probe.dtypes == {torch.bfloat16}
    assert trace["forward_context"] == {"mixed_precision": 6 // 2}  # 96 samples / batch 32
    assert all(p.dtype == torch.float32 for p in state.model.parameters())  # master weights stay fp32


def test_full_precision_without_plugin() -> None:
    probe = DtypeProbe()
    run_tiny({}, observers=(probe,), epochs=1)
    assert probe.dtypes == {torch.float32}


def test_fp16_backward_unscales_only_when_the_step_is_due() -> None:
    """The step's gradients reach on_after_backward in true scale; mid-accumulation they stay scaled."""
    from harness.plugins.fixes.mixed_precision import MixedPrecision
    from harness.testing import bare_state

    model = torch.nn.Linear(3, 1)
    state = bare_state(model=model, device=torch.device("cpu"))
    state.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plugin = MixedPrecision(MixedPrecision.Params(dtype="fp16"))
    plugin.on_train_start(state)
    x = torch.ones(4, 3)
    plain = torch.autograd.grad(model(x).sum(), model.weight)[0]
    assert plugin.backward(state, model(x).sum(), step_due=False) is True
    scale = plugin.scaler.get_scale()
    assert torch.allclose(model.weight.grad, plain * scale)  # accumulating: still scaled
    model.weight.grad = None
    model.bias.grad = None
    plugin.backward(state, model(x).sum(), step_due=True)
    assert torch.allclose(model.weight.grad, plain)  # the step is due: true scale
    assert plugin.optimizer_step(state) is True  # the scaler steps (it knows the grads are unscaled)


def test_fp16_run_with_accumulation_trains() -> None:
    state, status, trace = run_tiny(
        {"mixed_precision": {"dtype": "fp16"}}, epochs=1, batch_size=16, accumulation_steps=2
    )
    assert status == "ok" and trace["optimizer_step"] == {"mixed_precision": 3}
    assert "on_before_optimizer_step" not in trace or "mixed_precision" not in trace["on_before_optimizer_step"]

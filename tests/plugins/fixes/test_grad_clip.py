from __future__ import annotations

import pytest
import torch

from harness.core.hookspecs import hookimpl
from harness.testing import run_tiny


class GradNormProbe:
    """Reads the total gradient norm after every other plugin (trylast) ran."""

    def __init__(self) -> None:
        self.norms: list[float] = []
        self.max_abs: list[float] = []

    @hookimpl(trylast=True)
    def on_before_optimizer_step(self, state) -> None:
        grads = [p.grad for p in state.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        self.max_abs.append(max(float(g.abs().max()) for g in grads))


def test_norm_clipping_caps_total_norm() -> None:
    probe = GradNormProbe()
    _, _, trace = run_tiny({"grad_clip": {"max_norm": 0.05}}, observers=(probe,), epochs=1, batch_size=16)
    assert trace["on_before_optimizer_step"]["grad_clip"] == 6  # (monitors read gradients there too)
    assert max(probe.norms) <= 0.05 * (1 + 1e-4)


def test_unclipped_norms_exceed_the_cap() -> None:
    probe = GradNormProbe()
    run_tiny({}, observers=(probe,), epochs=1, batch_size=16)
    assert max(probe.norms) > 0.05


def test_value_clipping_caps_every_element() -> None:
    probe = GradNormProbe()
    run_tiny({"grad_clip": {"max_norm": None, "max_value": 1e-3}}, observers=(probe,), epochs=1, batch_size=16)
    assert max(probe.max_abs) <= 1e-3 * (1 + 1e-6)  # float32 representation of 1e-3


def test_params_need_something_to_clip() -> None:
    from pydantic import ValidationError

    from harness.plugins.fixes.grad_clip import Params

    with pytest.raises(ValidationError):
        Params(max_norm=None, max_value=None)


def test_on_a_script_the_norm_at_each_step_is_at_most_max_norm_and_the_monitors_saw_it_raw() -> None:
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    from .script_helpers import batches, fixes_on_script

    seen_first: list[float] = []
    at_step: list[float] = []

    def norm(optimizer: torch.optim.Optimizer) -> float:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))

    first = register_optimizer_step_pre_hook(lambda opt, a, k: seen_first.append(norm(opt)))  # as the watcher's
    try:
        with fixes_on_script({"grad_clip": {"max_norm": 0.05}}):
            last = register_optimizer_step_pre_hook(lambda opt, a, k: at_step.append(norm(opt)))
            model = torch.nn.Linear(4, 3)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in batches(6):
                optimizer.zero_grad()
                (100 * torch.nn.functional.cross_entropy(model(x), y)).backward()
                optimizer.step()
            last.remove()
    finally:
        first.remove()
    assert min(seen_first) > 0.05  # the raw gradients, before the clip
    assert max(at_step) <= 0.05 * (1 + 1e-4)
